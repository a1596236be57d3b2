"""Use case: list Tareas a page at a time."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.errors import TareaInvalidaError
from core.domain.models.tarea import EstadoTarea, Tarea
from core.domain.ports.tarea_repository import TareaRepository

MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class ListarTareasQuery:
    """Input of :class:`ListarTareasUseCase`."""

    estado: EstadoTarea | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class TareaPage:
    """One page of Tareas and the total matching the filter."""

    items: list[Tarea]
    total: int
    limit: int
    offset: int


class ListarTareasUseCase:
    """Return one page of Tareas, newest last, with the total count."""

    def __init__(self, repository: TareaRepository) -> None:
        self._repository = repository

    def execute(self, query: ListarTareasQuery) -> TareaPage:
        if not 1 <= query.limit <= MAX_PAGE_SIZE:
            raise TareaInvalidaError("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
        if query.offset < 0:
            raise TareaInvalidaError("offset", "must be >= 0")
        items = self._repository.list(estado=query.estado, limit=query.limit, offset=query.offset)
        total = self._repository.count(estado=query.estado)
        return TareaPage(items=items, total=total, limit=query.limit, offset=query.offset)
