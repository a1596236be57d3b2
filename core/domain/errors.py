"""Domain and application errors.

Adapters translate driver failures into these so that callers (HTTP routes, Celery tasks,
the CLI) never need to know which store or driver produced them.
"""

from __future__ import annotations

from uuid import UUID


class DualWriteError(Exception):
    """Base class of every error this project raises on purpose."""


class TareaInvalidaError(DualWriteError, ValueError):
    """A Tarea field breaks a domain rule (for example an empty ``titulo``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TareaNoEncontradaError(DualWriteError, LookupError):
    """No Tarea with that id exists in the authoritative store."""

    def __init__(self, tarea_id: UUID) -> None:
        super().__init__(f"Tarea {tarea_id} not found")
        self.tarea_id = tarea_id


class ConflictoDeVersionError(DualWriteError):
    """The Tarea changed since the caller read it (optimistic concurrency)."""

    def __init__(self, tarea_id: UUID, expected: int | None, actual: int | None) -> None:
        super().__init__(f"Tarea {tarea_id} is at version {actual}, not the expected version {expected}")
        self.tarea_id = tarea_id
        self.expected = expected
        self.actual = actual


class StoreUnavailableError(DualWriteError):
    """A store could not be reached or did not answer in time."""

    def __init__(self, store: str, detail: str) -> None:
        super().__init__(f"{store} unavailable: {detail}")
        self.store = store
        self.detail = detail


class DualWriteFailedError(DualWriteError):
    """Both branches of a dual write failed (the seed's "both fail" row)."""

    def __init__(self, operation: str, sql_error: BaseException, mongo_error: BaseException) -> None:
        super().__init__(f"{operation} failed in both databases: SQL: {sql_error}; MongoDB: {mongo_error}")
        self.sql_error = sql_error
        self.mongo_error = mongo_error
