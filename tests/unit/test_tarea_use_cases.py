"""The Tarea CRUD use cases against the in-memory repository."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from core.application.actualizar_tarea import ActualizarTareaCommand, ActualizarTareaUseCase
from core.application.crear_tarea import CrearTareaCommand, CrearTareaUseCase
from core.application.eliminar_tarea import EliminarTareaUseCase
from core.application.listar_tareas import MAX_PAGE_SIZE, ListarTareasQuery, ListarTareasUseCase
from core.application.obtener_tarea import ObtenerTareaUseCase
from core.domain.errors import ConflictoDeVersionError, TareaInvalidaError, TareaNoEncontradaError
from core.domain.models.tarea import EstadoTarea, Tarea, utc_now
from tests.support.fakes import InMemoryTareaRepository


@pytest.fixture
def repo() -> InMemoryTareaRepository:
    return InMemoryTareaRepository()


def _seed(repo: InMemoryTareaRepository, estados: list[EstadoTarea]) -> list[Tarea]:
    """Store Tareas one millisecond apart, so their order is known."""
    start = utc_now()
    tareas = []
    for i, estado in enumerate(estados):
        stamp = start + timedelta(milliseconds=i)
        tareas.append(repo.save(Tarea(titulo=f"t{i}", estado=estado, created_at=stamp, updated_at=stamp)))
    return tareas


# -- crear ------------------------------------------------------------------------------
def test_crear_stores_a_new_tarea_at_version_one(repo: InMemoryTareaRepository) -> None:
    command = CrearTareaCommand(titulo=" Escribir ", descripcion="informe", estado=EstadoTarea.EN_PROGRESO)
    tarea = CrearTareaUseCase(repo).execute(command)

    assert (tarea.titulo, tarea.descripcion, tarea.estado, tarea.version) == (
        "Escribir",
        "informe",
        EstadoTarea.EN_PROGRESO,
        1,
    )
    assert repo.get(tarea.id) == tarea


def test_crear_with_invalid_titulo_stores_nothing(repo: InMemoryTareaRepository) -> None:
    with pytest.raises(TareaInvalidaError):
        CrearTareaUseCase(repo).execute(CrearTareaCommand(titulo=" "))
    assert repo.count() == 0


# -- obtener ----------------------------------------------------------------------------
def test_obtener_returns_the_stored_tarea(repo: InMemoryTareaRepository) -> None:
    tarea = repo.save(Tarea.crear("leer"))
    assert ObtenerTareaUseCase(repo).execute(tarea.id) == tarea


def test_obtener_unknown_id_raises_not_found(repo: InMemoryTareaRepository) -> None:
    unknown = uuid4()
    with pytest.raises(TareaNoEncontradaError) as info:
        ObtenerTareaUseCase(repo).execute(unknown)
    assert info.value.tarea_id == unknown


# -- listar -----------------------------------------------------------------------------
def test_listar_pages_in_creation_order_with_the_total(repo: InMemoryTareaRepository) -> None:
    tareas = _seed(repo, [EstadoTarea.PENDIENTE] * 5)
    use_case = ListarTareasUseCase(repo)

    pages = [use_case.execute(ListarTareasQuery(limit=2, offset=offset)) for offset in (0, 2, 4)]

    assert [[t.id for t in p.items] for p in pages] == [
        [tareas[0].id, tareas[1].id],
        [tareas[2].id, tareas[3].id],
        [tareas[4].id],
    ]
    assert {p.total for p in pages} == {5}
    assert (pages[1].limit, pages[1].offset) == (2, 2)
    assert use_case.execute(ListarTareasQuery(offset=10)).items == []


def test_listar_filters_by_estado_and_counts_only_matches(repo: InMemoryTareaRepository) -> None:
    estados = [EstadoTarea.PENDIENTE, EstadoTarea.COMPLETADA, EstadoTarea.PENDIENTE, EstadoTarea.CANCELADA]
    tareas = _seed(repo, estados)

    page = ListarTareasUseCase(repo).execute(ListarTareasQuery(estado=EstadoTarea.PENDIENTE))

    assert [t.id for t in page.items] == [tareas[0].id, tareas[2].id]
    assert page.total == 2


@pytest.mark.parametrize(
    ("limit", "offset", "field"),
    [(0, 0, "limit"), (MAX_PAGE_SIZE + 1, 0, "limit"), (-1, 0, "limit"), (10, -1, "offset")],
)
def test_listar_refuses_out_of_range_limits(
    repo: InMemoryTareaRepository, limit: int, offset: int, field: str
) -> None:
    with pytest.raises(TareaInvalidaError) as info:
        ListarTareasUseCase(repo).execute(ListarTareasQuery(limit=limit, offset=offset))
    assert info.value.field == field


def test_listar_accepts_the_largest_page(repo: InMemoryTareaRepository) -> None:
    _seed(repo, [EstadoTarea.PENDIENTE] * 3)
    page = ListarTareasUseCase(repo).execute(ListarTareasQuery(limit=MAX_PAGE_SIZE))
    assert len(page.items) == 3


# -- actualizar -------------------------------------------------------------------------
def test_actualizar_changes_only_the_given_fields_and_bumps_the_version(
    repo: InMemoryTareaRepository,
) -> None:
    tarea = repo.save(Tarea.crear("uno", "desc"))
    updated = ActualizarTareaUseCase(repo).execute(
        ActualizarTareaCommand(tarea_id=tarea.id, estado=EstadoTarea.COMPLETADA)
    )
    assert (updated.titulo, updated.descripcion, updated.estado, updated.version) == (
        "uno",
        "desc",
        EstadoTarea.COMPLETADA,
        2,
    )
    assert repo.get(tarea.id) == updated


def test_actualizar_with_the_current_expected_version_succeeds(repo: InMemoryTareaRepository) -> None:
    tarea = repo.save(Tarea.crear("uno"))
    updated = ActualizarTareaUseCase(repo).execute(
        ActualizarTareaCommand(tarea_id=tarea.id, titulo="dos", expected_version=1)
    )
    assert updated.version == 2 and updated.titulo == "dos"


def test_actualizar_with_a_stale_expected_version_conflicts_and_changes_nothing(
    repo: InMemoryTareaRepository,
) -> None:
    tarea = repo.save(Tarea.crear("uno"))
    use_case = ActualizarTareaUseCase(repo)
    use_case.execute(ActualizarTareaCommand(tarea_id=tarea.id, titulo="dos"))

    with pytest.raises(ConflictoDeVersionError) as info:
        use_case.execute(ActualizarTareaCommand(tarea_id=tarea.id, titulo="tres", expected_version=1))

    assert (info.value.expected, info.value.actual) == (1, 2)
    stored = repo.get(tarea.id)
    assert stored is not None and stored.titulo == "dos" and stored.version == 2


def test_actualizar_losing_a_race_after_reading_conflicts(repo: InMemoryTareaRepository) -> None:
    """Another writer stores the next version between this use case's read and write."""
    tarea = repo.save(Tarea.crear("uno"))

    class RacingRepository(InMemoryTareaRepository):
        def get(self, tarea_id: UUID) -> Tarea | None:
            current = repo.get(tarea_id)
            assert current is not None
            repo.save(current.actualizar(titulo="otro escritor"))
            return current

        def save(self, t: Tarea) -> Tarea:
            return repo.save(t)

    with pytest.raises(ConflictoDeVersionError):
        ActualizarTareaUseCase(RacingRepository()).execute(
            ActualizarTareaCommand(tarea_id=tarea.id, titulo="mio")
        )
    stored = repo.get(tarea.id)
    assert stored is not None and stored.titulo == "otro escritor"


def test_actualizar_unknown_id_raises_not_found(repo: InMemoryTareaRepository) -> None:
    with pytest.raises(TareaNoEncontradaError):
        ActualizarTareaUseCase(repo).execute(ActualizarTareaCommand(tarea_id=uuid4(), titulo="x"))


def test_actualizar_with_invalid_titulo_keeps_the_stored_tarea(repo: InMemoryTareaRepository) -> None:
    tarea = repo.save(Tarea.crear("uno"))
    with pytest.raises(TareaInvalidaError):
        ActualizarTareaUseCase(repo).execute(ActualizarTareaCommand(tarea_id=tarea.id, titulo=""))
    assert repo.get(tarea.id) == tarea


# -- eliminar ---------------------------------------------------------------------------
def test_eliminar_removes_the_tarea_then_raises_not_found(repo: InMemoryTareaRepository) -> None:
    tarea = repo.save(Tarea.crear("borrar"))
    use_case = EliminarTareaUseCase(repo)

    use_case.execute(tarea.id)

    assert repo.get(tarea.id) is None
    with pytest.raises(TareaNoEncontradaError):
        use_case.execute(tarea.id)
    with pytest.raises(TareaNoEncontradaError):
        ObtenerTareaUseCase(repo).execute(tarea.id)
