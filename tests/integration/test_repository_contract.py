"""The one contract every TareaRepository keeps, run against every implementation.

SQL on SQLite and on PostgreSQL, MongoDB on the secantusd server, the dual repository in
both write modes, and the in-memory fake the unit tests use (so the fake cannot drift
from the real stores).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from uuid import uuid4

import pytest
import sqlalchemy as sa

from core.domain.errors import ConflictoDeVersionError
from core.domain.models.tarea import EstadoTarea, Tarea, utc_now
from core.domain.ports.tarea_repository import TareaRepository
from infrastructure.dual.repository.tarea_repository import DualTareaRepository
from infrastructure.settings import DualWriteMode
from infrastructure.sqlalchemy.outbox.outbox_store import SqlOutbox
from infrastructure.sqlalchemy.repository.tarea_repository import SqlAlchemyTareaRepository
from infrastructure.sqlalchemy.schema import outbox
from tests.support.fakes import InMemoryTareaRepository, RecordingPublisher

RepositoryFactory = Callable[[pytest.FixtureRequest], TareaRepository]


def _memory(request: pytest.FixtureRequest) -> TareaRepository:
    return InMemoryTareaRepository()


def _sqlite(request: pytest.FixtureRequest) -> TareaRepository:
    return request.getfixturevalue("sqlite_repo")  # type: ignore[no-any-return]


def _postgres(request: pytest.FixtureRequest) -> TareaRepository:
    return request.getfixturevalue("pg_repo")  # type: ignore[no-any-return]


def _mongo(request: pytest.FixtureRequest) -> TareaRepository:
    return request.getfixturevalue("mongo_repo")  # type: ignore[no-any-return]


def _executor(request: pytest.FixtureRequest) -> ThreadPoolExecutor:
    # The container's default pool size: concurrent callers share two threads.
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="DualRepoTest")
    request.addfinalizer(lambda: executor.shutdown(wait=True))
    return executor


def _dual_threadpool(request: pytest.FixtureRequest) -> TareaRepository:
    engine = request.getfixturevalue("sqlite_engine")
    return DualTareaRepository(
        sql_repository=SqlAlchemyTareaRepository(engine),
        mongo_repository=request.getfixturevalue("mongo_repo"),
        mode=DualWriteMode.THREADPOOL,
        executor=_executor(request),
        outbox=SqlOutbox(engine),
    )


def _dual_queued(request: pytest.FixtureRequest) -> TareaRepository:
    engine = request.getfixturevalue("pg_engine")
    publisher = RecordingPublisher()
    repo = DualTareaRepository(
        sql_repository=SqlAlchemyTareaRepository(engine),
        mongo_repository=request.getfixturevalue("mongo_repo"),
        mode=DualWriteMode.QUEUED,
        executor=_executor(request),
        outbox=SqlOutbox(engine),
        publisher=publisher,
    )

    def every_write_was_published() -> None:
        with engine.connect() as conn:
            recorded = conn.execute(sa.select(outbox.c.id).order_by(outbox.c.id)).scalars().all()
        assert sorted(publisher.published_ids) == list(recorded)

    request.addfinalizer(every_write_was_published)
    return repo


REPOSITORIES = [
    pytest.param(_memory, id="memory"),
    pytest.param(_sqlite, id="sqlite"),
    pytest.param(_postgres, id="postgresql", marks=pytest.mark.integration),
    pytest.param(_mongo, id="mongo", marks=pytest.mark.integration),
    pytest.param(_dual_threadpool, id="dual-threadpool", marks=pytest.mark.integration),
    pytest.param(_dual_queued, id="dual-queued", marks=pytest.mark.integration),
]


@pytest.fixture(params=REPOSITORIES)
def repo(request: pytest.FixtureRequest) -> Iterator[TareaRepository]:
    factory: RepositoryFactory = request.param
    yield factory(request)


BASE_TIME = utc_now()


def _stamped(titulo: str, offset_ms: int, estado: EstadoTarea = EstadoTarea.PENDIENTE) -> Tarea:
    stamp = BASE_TIME + timedelta(milliseconds=offset_ms)
    return Tarea(titulo=titulo, estado=estado, created_at=stamp, updated_at=stamp)


def _sorted(tareas: list[Tarea]) -> list[Tarea]:
    return sorted(tareas, key=lambda t: (t.created_at, str(t.id)))


# -- round trips ------------------------------------------------------------------------
def test_save_then_get_returns_an_equal_tarea(repo: TareaRepository) -> None:
    tarea = Tarea.crear("Contrato", "descripción con ñ", EstadoTarea.EN_PROGRESO)

    assert repo.save(tarea) == tarea
    stored = repo.get(tarea.id)

    assert stored == tarea
    assert stored is not None and stored.created_at.utcoffset() == timedelta(0)


def test_get_of_an_unknown_id_is_none(repo: TareaRepository) -> None:
    assert repo.get(uuid4()) is None


def test_update_stores_the_next_version(repo: TareaRepository) -> None:
    tarea = repo.save(Tarea.crear("uno"))
    updated = repo.save(tarea.actualizar(titulo="dos", estado=EstadoTarea.COMPLETADA))

    stored = repo.get(tarea.id)
    assert stored == updated
    assert stored is not None and stored.version == 2 and stored.titulo == "dos"
    assert repo.count() == 1


# -- version guard ----------------------------------------------------------------------
def test_saving_the_same_version_again_conflicts(repo: TareaRepository) -> None:
    tarea = repo.save(Tarea.crear("uno"))
    with pytest.raises(ConflictoDeVersionError):
        repo.save(dataclasses.replace(tarea, titulo="copia"))
    assert repo.get(tarea.id) == tarea


def test_saving_a_stale_version_conflicts_and_keeps_the_newer(repo: TareaRepository) -> None:
    tarea = repo.save(Tarea.crear("uno"))
    second = repo.save(tarea.actualizar(titulo="dos"))
    third = repo.save(second.actualizar(titulo="tres"))

    with pytest.raises(ConflictoDeVersionError):
        repo.save(second.actualizar(titulo="tarde"))  # version 3 again
    with pytest.raises(ConflictoDeVersionError):
        repo.save(tarea.actualizar(titulo="muy tarde"))  # version 2

    assert repo.get(tarea.id) == third


def test_concurrent_updaters_of_one_version_exactly_one_wins(repo: TareaRepository) -> None:
    tarea = repo.save(Tarea.crear("base"))
    writers = 6
    start = threading.Barrier(writers)
    results: dict[int, Tarea | BaseException] = {}

    def update(i: int) -> None:
        candidate = tarea.actualizar(titulo=f"escritor {i}")
        start.wait()
        try:
            results[i] = repo.save(candidate)
        except ConflictoDeVersionError as exc:
            results[i] = exc

    threads = [threading.Thread(target=update, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    winners = [r for r in results.values() if isinstance(r, Tarea)]
    losers = [r for r in results.values() if isinstance(r, ConflictoDeVersionError)]
    assert len(results) == writers
    assert len(winners) == 1, results
    assert len(losers) == writers - 1
    assert repo.get(tarea.id) == winners[0]


# -- listing ----------------------------------------------------------------------------
def test_list_orders_by_created_at_then_id(repo: TareaRepository) -> None:
    # Three share one timestamp, so only the id can order them.
    tareas = [
        _stamped("tarde", 5),
        _stamped("a", 1),
        _stamped("b", 1),
        _stamped("c", 1),
        _stamped("pronto", 0),
    ]
    for tarea in tareas:
        repo.save(tarea)

    assert repo.list() == _sorted(tareas)


def test_list_pages_with_limit_and_offset(repo: TareaRepository) -> None:
    tareas = [_stamped(f"t{i}", i) for i in range(7)]
    for tarea in reversed(tareas):
        repo.save(tarea)

    pages = [repo.list(limit=3, offset=offset) for offset in (0, 3, 6, 9)]

    assert pages == [tareas[0:3], tareas[3:6], tareas[6:7], []]
    assert repo.list(limit=2, offset=4) == tareas[4:6]


def test_list_and_count_filter_by_estado(repo: TareaRepository) -> None:
    estados = [EstadoTarea.PENDIENTE, EstadoTarea.COMPLETADA, EstadoTarea.PENDIENTE, EstadoTarea.CANCELADA]
    tareas = [_stamped(f"t{i}", i, estado) for i, estado in enumerate(estados)]
    for tarea in tareas:
        repo.save(tarea)

    assert repo.list(estado=EstadoTarea.PENDIENTE) == [tareas[0], tareas[2]]
    assert repo.list(estado=EstadoTarea.PENDIENTE, limit=1, offset=1) == [tareas[2]]
    assert repo.list(estado=EstadoTarea.EN_PROGRESO) == []
    assert repo.count() == 4
    assert repo.count(estado=EstadoTarea.PENDIENTE) == 2
    assert repo.count(estado=EstadoTarea.CANCELADA) == 1
    assert repo.count(estado=EstadoTarea.EN_PROGRESO) == 0


def test_list_sees_an_update_of_estado(repo: TareaRepository) -> None:
    tarea = repo.save(Tarea.crear("t"))
    repo.save(tarea.actualizar(estado=EstadoTarea.COMPLETADA))

    assert repo.count(estado=EstadoTarea.PENDIENTE) == 0
    assert [t.id for t in repo.list(estado=EstadoTarea.COMPLETADA)] == [tarea.id]


# -- eliminar ---------------------------------------------------------------------------
def test_eliminar_returns_true_then_false(repo: TareaRepository) -> None:
    tarea = repo.save(Tarea.crear("borrar"))
    assert repo.eliminar(tarea.id) is True
    assert repo.eliminar(tarea.id) is False
    assert repo.eliminar(uuid4()) is False


def test_an_eliminated_tarea_is_neither_gettable_nor_listed_nor_counted(repo: TareaRepository) -> None:
    kept, gone = _stamped("queda", 0), _stamped("se va", 1)
    repo.save(kept)
    repo.save(gone)

    repo.eliminar(gone.id)

    assert repo.get(gone.id) is None
    assert repo.list() == [kept]
    assert repo.count() == 1
    assert repo.count(estado=EstadoTarea.PENDIENTE) == 1
