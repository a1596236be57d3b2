"""Use case: read one Tarea."""

from __future__ import annotations

from uuid import UUID

from core.domain.errors import TareaNoEncontradaError
from core.domain.models.tarea import Tarea
from core.domain.ports.tarea_repository import TareaRepository


class ObtenerTareaUseCase:
    """Return one Tarea or raise :class:`TareaNoEncontradaError`."""

    def __init__(self, repository: TareaRepository) -> None:
        self._repository = repository

    def execute(self, tarea_id: UUID) -> Tarea:
        tarea = self._repository.get(tarea_id)
        if tarea is None:
            raise TareaNoEncontradaError(tarea_id)
        return tarea
