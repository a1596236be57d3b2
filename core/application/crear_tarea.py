"""Use case: create a Tarea."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.models.tarea import EstadoTarea, Tarea
from core.domain.ports.tarea_repository import TareaRepository


@dataclass(frozen=True)
class CrearTareaCommand:
    """Input of :class:`CrearTareaUseCase`."""

    titulo: str
    descripcion: str = ""
    estado: EstadoTarea = EstadoTarea.PENDIENTE


class CrearTareaUseCase:
    """Create a Tarea at version 1 and store it through the configured repository."""

    def __init__(self, repository: TareaRepository) -> None:
        self._repository = repository

    def execute(self, command: CrearTareaCommand) -> Tarea:
        tarea = Tarea.crear(command.titulo, command.descripcion, command.estado)
        return self._repository.save(tarea)
