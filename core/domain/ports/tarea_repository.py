"""The repository port every Tarea store implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from uuid import UUID

from core.domain.models.tarea import EstadoTarea, Tarea


class TareaRepository(ABC):
    """Persistence port for the Tarea aggregate.

    Implementations: SQL (SQLAlchemy), MongoDB (pymongo) and the dual repository that
    writes both. ``save`` is an upsert guarded by ``version``: storing version ``n`` over
    a stored version ``>= n`` raises :class:`~core.domain.errors.ConflictoDeVersionError`.
    Store failures surface as :class:`~core.domain.errors.StoreUnavailableError`.
    """

    @abstractmethod
    def save(self, tarea: Tarea) -> Tarea:
        """Insert or update ``tarea`` and return it as stored."""

    @abstractmethod
    def get(self, tarea_id: UUID) -> Tarea | None:
        """Return the Tarea with that id, or ``None`` when there is none."""

    def get_for_update(self, tarea_id: UUID) -> Tarea | None:
        """Return the copy a change is checked against: the authoritative store's.

        Unlike ``get`` this never falls back to a replica, which may lag: an update
        checked against a stale copy would answer a false version conflict. A store
        that is its own authority reads as ``get``.
        """
        return self.get(tarea_id)

    @abstractmethod
    def list(self, *, estado: EstadoTarea | None = None, limit: int = 100, offset: int = 0) -> list[Tarea]:
        """Return Tareas ordered by creation time (then id), optionally of one ``estado``."""

    @abstractmethod
    def count(self, *, estado: EstadoTarea | None = None) -> int:
        """Return how many Tareas exist, optionally of one ``estado``."""

    @abstractmethod
    def eliminar(self, tarea_id: UUID) -> bool:
        """Delete the Tarea; return ``False`` when it did not exist."""
