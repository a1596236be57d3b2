"""Use case: change a Tarea, with optimistic concurrency on ``version``."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from core.domain.errors import ConflictoDeVersionError, TareaNoEncontradaError
from core.domain.models.tarea import EstadoTarea, Tarea
from core.domain.ports.tarea_repository import TareaRepository


@dataclass(frozen=True)
class ActualizarTareaCommand:
    """Fields left as ``None`` keep their value. ``expected_version``, when given, must
    match the stored version or the update is refused with a conflict."""

    tarea_id: UUID
    titulo: str | None = None
    descripcion: str | None = None
    estado: EstadoTarea | None = None
    expected_version: int | None = None


class ActualizarTareaUseCase:
    """Apply a change and store the next version of the Tarea.

    The repository's version guard closes the race between two concurrent updates of
    the same version: the second one gets :class:`ConflictoDeVersionError`.
    """

    def __init__(self, repository: TareaRepository) -> None:
        self._repository = repository

    def execute(self, command: ActualizarTareaCommand) -> Tarea:
        current = self._repository.get_for_update(command.tarea_id)
        if current is None:
            raise TareaNoEncontradaError(command.tarea_id)
        if command.expected_version is not None and command.expected_version != current.version:
            raise ConflictoDeVersionError(command.tarea_id, command.expected_version, current.version)
        updated = current.actualizar(
            titulo=command.titulo, descripcion=command.descripcion, estado=command.estado
        )
        return self._repository.save(updated)
