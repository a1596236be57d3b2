"""Use case: delete a Tarea."""

from __future__ import annotations

from uuid import UUID

from core.domain.errors import TareaNoEncontradaError
from core.domain.ports.tarea_repository import TareaRepository


class EliminarTareaUseCase:
    """Delete a Tarea or raise :class:`TareaNoEncontradaError`."""

    def __init__(self, repository: TareaRepository) -> None:
        self._repository = repository

    def execute(self, tarea_id: UUID) -> None:
        if not self._repository.eliminar(tarea_id):
            raise TareaNoEncontradaError(tarea_id)
