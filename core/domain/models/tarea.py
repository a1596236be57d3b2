"""The Tarea aggregate."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from uuid import UUID, uuid4

from core.domain.errors import TareaInvalidaError

TITULO_MAX_LENGTH = 200
DESCRIPCION_MAX_LENGTH = 5000


class EstadoTarea(enum.StrEnum):
    """Lifecycle states of a Tarea."""

    PENDIENTE = "pendiente"
    EN_PROGRESO = "en_progreso"
    COMPLETADA = "completada"
    CANCELADA = "cancelada"


def utc_now() -> datetime:
    """Current UTC time truncated to milliseconds.

    MongoDB stores datetimes with millisecond precision; truncating here keeps a Tarea
    byte-for-byte equal in both stores, which reconciliation relies on.
    """
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _refuse_nul(field: str, value: str) -> None:
    # PostgreSQL text cannot hold NUL: without this check one store would refuse a write
    # the other accepted.
    if "\x00" in value:
        raise TareaInvalidaError(field, "must not contain NUL characters")


def _validate_titulo(titulo: str) -> str:
    if not isinstance(titulo, str):
        raise TareaInvalidaError("titulo", "must be a string")
    _refuse_nul("titulo", titulo)
    cleaned = titulo.strip()
    if not cleaned:
        raise TareaInvalidaError("titulo", "must not be empty")
    if len(cleaned) > TITULO_MAX_LENGTH:
        raise TareaInvalidaError("titulo", f"must be at most {TITULO_MAX_LENGTH} characters")
    return cleaned


def _validate_descripcion(descripcion: str) -> str:
    if not isinstance(descripcion, str):
        raise TareaInvalidaError("descripcion", "must be a string")
    _refuse_nul("descripcion", descripcion)
    if len(descripcion) > DESCRIPCION_MAX_LENGTH:
        raise TareaInvalidaError("descripcion", f"must be at most {DESCRIPCION_MAX_LENGTH} characters")
    return descripcion


@dataclass(frozen=True)
class Tarea:
    """A task. Immutable: every change returns a new Tarea with ``version`` + 1.

    ``version`` starts at 1 and grows by one on every change, so replicas can order
    writes and ignore stale or duplicated ones.
    """

    titulo: str
    descripcion: str = ""
    estado: EstadoTarea = EstadoTarea.PENDIENTE
    id: UUID = field(default_factory=uuid4)
    created_at: datetime = field(default_factory=utc_now)
    updated_at: datetime = field(default_factory=utc_now)
    version: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "titulo", _validate_titulo(self.titulo))
        object.__setattr__(self, "descripcion", _validate_descripcion(self.descripcion))
        try:
            object.__setattr__(self, "estado", EstadoTarea(self.estado))
        except ValueError as exc:
            allowed = ", ".join(e.value for e in EstadoTarea)
            raise TareaInvalidaError("estado", f"must be one of: {allowed}") from exc
        if self.version < 1:
            raise TareaInvalidaError("version", "must be >= 1")

    @classmethod
    def crear(cls, titulo: str, descripcion: str = "", estado: EstadoTarea = EstadoTarea.PENDIENTE) -> Tarea:
        """Create a new Tarea at version 1."""
        now = utc_now()
        return cls(titulo=titulo, descripcion=descripcion, estado=estado, created_at=now, updated_at=now)

    def actualizar(
        self,
        *,
        titulo: str | None = None,
        descripcion: str | None = None,
        estado: EstadoTarea | None = None,
    ) -> Tarea:
        """Return the next version of this Tarea with the given fields changed."""
        return replace(
            self,
            titulo=self.titulo if titulo is None else titulo,
            descripcion=self.descripcion if descripcion is None else descripcion,
            estado=self.estado if estado is None else estado,
            updated_at=max(utc_now(), self.updated_at),
            version=self.version + 1,
        )
