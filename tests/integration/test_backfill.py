"""Backfill of a database that predates dual write, on real PostgreSQL and the
Mongo-compatible server, while live writes go on through the dual repository."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import pytest
import sqlalchemy as sa

from core.application.backfill import CHECKPOINT_NAME, BackfillUseCase
from core.domain.errors import ConflictoDeVersionError
from core.domain.models.reconciliation import BackfillCheckpoint, BackfillProgress
from core.domain.models.replication import ApplyResult, ReplicationEvent
from core.domain.models.tarea import EstadoTarea, Tarea
from core.domain.ports.replication import ReplicaWriter
from infrastructure.container import Container
from infrastructure.dual.repository.tarea_repository import DualTareaRepository
from infrastructure.mapping.tarea_mapping import tarea_to_record
from infrastructure.settings import DualWriteMode
from infrastructure.sqlalchemy.operations_store import SqlBackfillCheckpoints
from infrastructure.sqlalchemy.repository.tarea_scan import SqlTareaScanner
from infrastructure.sqlalchemy.schema import tareas
from tests.support.ops import drop_mongo, ops_container, ops_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def container(pg_engine, pg_database, mongo_server, tmp_path) -> Iterator[Container]:
    # A generous socket timeout: the shared test server may be busy with other suites.
    values = ops_settings(
        pg_database.url,
        mongo_server.url,
        "filesystem://",
        data_dir=str(tmp_path / "d"),
        mongo_timeout_ms=6000,
    )
    container = ops_container(values)
    yield container
    drop_mongo(container)
    container.close()


def preexisting_rows(container: Container, count: int) -> list[Tarea]:
    """Rows written before dual write existed: SQL only, no outbox events."""
    rows = [Tarea.crear(f"legacy {n}", "from before the migration") for n in range(count)]
    with container.engine.begin() as conn:
        for start in range(0, count, 5000):
            conn.execute(tareas.insert(), [tarea_to_record(t) for t in rows[start : start + 5000]])
    return rows


def checkpoint_of(container: Container) -> BackfillCheckpoint:
    checkpoint = SqlBackfillCheckpoints(container.engine).load(CHECKPOINT_NAME)
    assert checkpoint is not None
    return checkpoint


class LiveWriter(threading.Thread):
    """Updates and creates Tareas through the dual repository (threadpool mode: both
    stores written directly) until stopped, like live traffic during the backfill."""

    def __init__(self, container: Container, targets: list[Tarea]) -> None:
        super().__init__(daemon=True)
        self.repository = DualTareaRepository(
            container.sql_repository, container.mongo_repository, mode=DualWriteMode.THREADPOOL
        )
        self.targets = targets
        self.stop = threading.Event()
        self.updates = self.creates = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            n = 0
            while not self.stop.is_set():
                n += 1
                target = self.targets[(n * 7919) % len(self.targets)]
                current = self.repository.get(target.id)
                assert current is not None
                try:
                    self.repository.save(
                        current.actualizar(estado=EstadoTarea.EN_PROGRESO, titulo=f"live {n}")
                    )
                    self.updates += 1
                except ConflictoDeVersionError:
                    pass
                if n % 3 == 0:
                    self.repository.save(Tarea.crear(f"created live {n}"))
                    self.creates += 1
                # Steady traffic (~100 writes/s), not a flood competing for the 2 cores.
                self.stop.wait(0.01)
        except BaseException as exc:
            self.error = exc


class RacingReplica(ReplicaWriter):
    """The backfill's replica, with a live update landing between the backfill's read of
    a batch and its write: the worst interleaving, made certain rather than hoped for
    (the copy is fast enough that the background traffic alone rarely hits it)."""

    def __init__(self, inner: ReplicaWriter, live: DualTareaRepository) -> None:
        self.inner = inner
        self.live = live
        self.raced = 0

    def apply(self, events: Sequence[ReplicationEvent]) -> ApplyResult:
        for event in events:
            current = self.live.get(event.tarea_id)
            if current is None or current.version != event.version:
                continue
            try:
                self.live.save(current.actualizar(titulo="raced the backfill"))
            except ConflictoDeVersionError:  # the background writer got there first
                continue
            self.raced += 1
            break
        return self.inner.apply(events)


def run_backfill_under_live_writes(container: Container, count: int, batch_size: int) -> dict[str, float]:
    rows = preexisting_rows(container, count)
    writer = LiveWriter(container, rows)
    replica = RacingReplica(container.mongo_repository, writer.repository)
    backfill = BackfillUseCase(
        SqlTareaScanner(container.engine), replica, SqlBackfillCheckpoints(container.engine)
    )
    progress: list[BackfillProgress] = []
    writer.start()
    started = time.perf_counter()
    try:
        result = backfill.execute(batch_size=batch_size, progress=progress.append)
    finally:
        writer.stop.set()
        writer.join(30)
    elapsed = time.perf_counter() - started
    assert writer.error is None, writer.error
    assert writer.updates > 0 and writer.creates > 0

    report = container.reconciliar().execute(chunk_size=1000)

    assert report.drift == [], report.drift[:5]
    assert report.rows_sql == report.rows_mongo == count + writer.creates
    assert result.total_copied >= count
    assert replica.raced > 0
    assert result.skipped >= replica.raced  # live versions won over the copy
    assert progress[-1].copied == result.total_copied
    assert checkpoint_of(container).finished
    return {"seconds": elapsed, "updates": writer.updates, "creates": writer.creates}


def test_backfill_of_3k_rows_under_live_writes_ends_consistent(container):
    figures = run_backfill_under_live_writes(container, 3000, batch_size=500)
    print(f"backfill 3k: {figures}")


@pytest.mark.slow
def test_backfill_of_20k_rows_under_live_writes_ends_consistent(container):
    figures = run_backfill_under_live_writes(container, 20_000, batch_size=1000)
    print(f"backfill 20k: {figures}")


def test_backfill_resumes_from_its_checkpoint_and_restarts_on_request(container):
    rows = sorted(preexisting_rows(container, 250), key=lambda t: str(t.id))
    backfill = container.backfill()

    first = backfill.execute(batch_size=100, max_batches=1)
    assert (first.copied, first.resumed_from) == (100, None)
    assert container.mongo_repository.count() == 100
    checkpoint = checkpoint_of(container)
    assert checkpoint.last_id == str(rows[99].id) and not checkpoint.finished

    rest = backfill.execute(batch_size=100)
    assert (rest.copied, rest.resumed_from, rest.total_copied) == (150, str(rows[99].id), 250)
    assert container.mongo_repository.count() == 250
    assert backfill.execute(batch_size=100).copied == 0  # finished: nothing left after last_id

    again = backfill.execute(batch_size=100, restart=True)
    assert (again.copied, again.applied + again.skipped) == (250, 250)
    assert container.reconciliar().execute().drift == []  # same versions, same content
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tareas)).scalar_one() == 250
