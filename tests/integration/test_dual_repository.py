"""The dual repository against real stores (SQLite + the MongoDB-compatible server),
one test per row of the seed's failure table, plus reads with fallback and the queued mode.

Failures are injected by subclassing the real repositories: the healthy operations still
reach the real stores, so each test can check what actually landed where. Stopping the
real servers would also work, but could not make one call fail while the next succeeds,
nor hang a store for a bounded time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from pymongo import MongoClient
from sqlalchemy.engine import Engine

from core.application.aplicar_replicacion import AplicarReplicacionUseCase
from core.application.relay_outbox import RelayOutboxUseCase
from core.domain.errors import ConflictoDeVersionError, DualWriteFailedError, StoreUnavailableError
from core.domain.models.replication import EventStatus, Operation
from core.domain.models.tarea import EstadoTarea, Tarea
from infrastructure.dual.repository.tarea_repository import DualTareaRepository
from infrastructure.mongo.client import MongoDocument
from infrastructure.mongo.repository.tarea_repository import MongoTareaRepository
from infrastructure.settings import DualWriteMode, PrimaryStore
from infrastructure.sqlalchemy.outbox.outbox_store import SqlOutbox
from infrastructure.sqlalchemy.repository.tarea_repository import SqlAlchemyTareaRepository
from infrastructure.sqlalchemy.schema import outbox
from tests.support.fakes import RecordingPublisher

pytestmark = pytest.mark.integration

DUAL_LOGGER = "infrastructure.dual.repository.tarea_repository"
TIMEOUT_SECONDS = 0.5
HANG_LIMIT_SECONDS = 30.0


class FaultInjection:
    """Mixin for a real repository: chosen methods raise or hang instead of working.

    A hung call waits until the test releases it (at teardown at the latest) and then
    fails, so it never writes anything after the test has looked at the stores.
    """

    store = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failing: dict[str, BaseException] = {}
        self.hanging: set[str] = set()
        self.release = threading.Event()

    def fail(self, *methods: str, error: BaseException | None = None) -> None:
        for method in methods:
            self.failing[method] = error or StoreUnavailableError(self.store, f"injected {method} failure")

    def hang(self, *methods: str) -> None:
        self.hanging.update(methods)

    def _inject(self, method: str) -> None:
        if method in self.hanging:
            self.release.wait(HANG_LIMIT_SECONDS)
            raise StoreUnavailableError(self.store, f"{method} hung")
        if method in self.failing:
            raise self.failing[method]

    def save(self, tarea: Tarea) -> Tarea:
        self._inject("save")
        return super().save(tarea)  # type: ignore[misc, no-any-return]

    def get(self, tarea_id: UUID) -> Tarea | None:
        self._inject("get")
        return super().get(tarea_id)  # type: ignore[misc, no-any-return]

    def list(self, **kwargs: Any) -> list[Tarea]:
        self._inject("list")
        return super().list(**kwargs)  # type: ignore[misc, no-any-return]

    def count(self, **kwargs: Any) -> int:
        self._inject("count")
        return super().count(**kwargs)  # type: ignore[misc, no-any-return]

    def eliminar(self, tarea_id: UUID) -> bool:
        self._inject("eliminar")
        return super().eliminar(tarea_id)  # type: ignore[misc, no-any-return]


class FaultySqlRepository(FaultInjection, SqlAlchemyTareaRepository):
    store = "sql"


class FaultyMongoRepository(FaultInjection, MongoTareaRepository):
    store = "mongo"


@pytest.fixture
def sql(sqlite_engine: Engine) -> Iterator[FaultySqlRepository]:
    repo = FaultySqlRepository(sqlite_engine)
    yield repo
    repo.release.set()


@pytest.fixture
def mongo(
    mongo_repo: MongoTareaRepository, mongo_client: MongoClient[MongoDocument], mongo_db_name: str
) -> Iterator[FaultyMongoRepository]:
    # Same database as ``mongo_repo``, which the tests use as a plain view of the store.
    repo = FaultyMongoRepository(mongo_client, mongo_db_name)
    yield repo
    repo.release.set()


@pytest.fixture
def sql_outbox(sqlite_engine: Engine) -> SqlOutbox:
    return SqlOutbox(sqlite_engine)


@pytest.fixture
def executor(sql: FaultySqlRepository, mongo: FaultyMongoRepository) -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="DualRepoTest")
    yield pool
    # Let hung calls finish before waiting for the pool's threads.
    sql.release.set()
    mongo.release.set()
    pool.shutdown(wait=True)


def _dual(
    sql: SqlAlchemyTareaRepository,
    mongo: MongoTareaRepository,
    executor: ThreadPoolExecutor,
    outbox_store: SqlOutbox | None = None,
    *,
    primary: PrimaryStore = PrimaryStore.SQL,
) -> DualTareaRepository:
    return DualTareaRepository(
        sql_repository=sql,
        mongo_repository=mongo,
        mode=DualWriteMode.THREADPOOL,
        primary=primary,
        timeout_seconds=TIMEOUT_SECONDS,
        executor=executor,
        outbox=outbox_store,
    )


@pytest.fixture
def dual(
    sql: FaultySqlRepository,
    mongo: FaultyMongoRepository,
    executor: ThreadPoolExecutor,
    sql_outbox: SqlOutbox,
) -> DualTareaRepository:
    return _dual(sql, mongo, executor, sql_outbox)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger=DUAL_LOGGER)
    return caplog


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == DUAL_LOGGER and r.levelno == level]


def _outbox_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(outbox).order_by(outbox.c.id)).mappings()]


def _replay(sql_outbox: SqlOutbox, mongo_repo: MongoTareaRepository) -> list[int]:
    """What the relay and a worker do with recorded events: publish, then apply."""
    publisher = RecordingPublisher()
    RelayOutboxUseCase(sql_outbox, publisher).execute(batch_size=100)
    AplicarReplicacionUseCase(sql_outbox, mongo_repo).execute(publisher.published_ids)
    return publisher.published_ids


# -- writes: the seed's failure table -------------------------------------------------------
def test_both_ok_writes_both_stores_and_logs_the_seed_messages(
    dual: DualTareaRepository,
    sqlite_repo: SqlAlchemyTareaRepository,
    mongo_repo: MongoTareaRepository,
    sqlite_engine: Engine,
    logs: pytest.LogCaptureFixture,
) -> None:
    tarea = Tarea.crear("ambas")

    assert dual.save(tarea) == tarea

    assert sqlite_repo.get(tarea.id) == tarea
    assert mongo_repo.get(tarea.id) == tarea
    assert _messages(logs, logging.INFO) == [
        f"🔄 Dual-Write iniciado para tarea {tarea.id}",
        f"✅ Dual-Write exitoso para tarea {tarea.id}",
    ]
    assert sorted(_messages(logs, logging.DEBUG)) == [
        "✓ Operación MongoDB completada",
        "✓ Operación SQLAlchemy completada",
    ]
    assert all(r.tarea_id == str(tarea.id) for r in logs.records if r.levelno == logging.INFO)  # type: ignore[attr-defined]
    assert _outbox_rows(sqlite_engine) == []


def test_sql_failing_logs_a_warning_and_mongo_has_the_tarea(
    dual: DualTareaRepository,
    sql: FaultySqlRepository,
    sqlite_repo: SqlAlchemyTareaRepository,
    mongo_repo: MongoTareaRepository,
    logs: pytest.LogCaptureFixture,
) -> None:
    sql.fail("save")
    tarea = Tarea.crear("solo mongo")

    assert dual.save(tarea) == tarea

    assert sqlite_repo.get(tarea.id) is None
    assert mongo_repo.get(tarea.id) == tarea
    assert _messages(logs, logging.WARNING) == ["⚠️ SQLAlchemy falló: sql unavailable: injected save failure"]
    assert not _messages(logs, logging.ERROR)


def test_mongo_failing_logs_a_warning_and_records_the_write_for_replay(
    dual: DualTareaRepository,
    mongo: FaultyMongoRepository,
    sqlite_repo: SqlAlchemyTareaRepository,
    mongo_repo: MongoTareaRepository,
    sqlite_engine: Engine,
    sql_outbox: SqlOutbox,
    logs: pytest.LogCaptureFixture,
) -> None:
    mongo.fail("save")
    tarea = Tarea.crear("solo sql")

    assert dual.save(tarea) == tarea

    assert sqlite_repo.get(tarea.id) == tarea
    assert mongo_repo.get(tarea.id) is None
    assert _messages(logs, logging.WARNING) == ["⚠️ MongoDB falló: mongo unavailable: injected save failure"]
    (row,) = _outbox_rows(sqlite_engine)
    assert (row["operation"], row["tarea_id"], row["version"], row["status"]) == (
        "upsert",
        str(tarea.id),
        1,
        "pending",
    )
    assert row["dispatched_at"] is None  # the relay picks it up on its next round

    assert _replay(sql_outbox, mongo_repo) == [row["id"]]
    assert mongo_repo.get(tarea.id) == tarea
    assert _outbox_rows(sqlite_engine)[0]["status"] == EventStatus.DONE.value


def test_both_failing_raises_and_logs_an_error(
    dual: DualTareaRepository,
    sql: FaultySqlRepository,
    mongo: FaultyMongoRepository,
    sqlite_repo: SqlAlchemyTareaRepository,
    mongo_repo: MongoTareaRepository,
    logs: pytest.LogCaptureFixture,
) -> None:
    sql.fail("save")
    mongo.fail("save")
    tarea = Tarea.crear("ninguna")

    with pytest.raises(DualWriteFailedError) as info:
        dual.save(tarea)

    assert isinstance(info.value.sql_error, StoreUnavailableError)
    assert isinstance(info.value.mongo_error, StoreUnavailableError)
    assert _messages(logs, logging.ERROR) == [
        f"❌ Dual-Write falló en ambas bases de datos para tarea {tarea.id}"
    ]
    assert sqlite_repo.get(tarea.id) is None
    assert mongo_repo.get(tarea.id) is None


def test_a_version_conflict_in_sql_reaches_the_caller_even_if_mongo_took_the_write(
    dual: DualTareaRepository,
    sqlite_repo: SqlAlchemyTareaRepository,
    mongo_repo: MongoTareaRepository,
) -> None:
    tarea = dual.save(Tarea.crear("v1"))
    newer = sqlite_repo.save(tarea.actualizar(titulo="v2 solo en SQL"))

    with pytest.raises(ConflictoDeVersionError):
        dual.save(tarea.actualizar(titulo="v2 tardía"))

    assert sqlite_repo.get(tarea.id) == newer


@pytest.mark.parametrize("hung_store", ["sql", "mongo"])
def test_a_hung_store_is_treated_as_failed_after_the_timeout(
    hung_store: str,
    dual: DualTareaRepository,
    sql: FaultySqlRepository,
    mongo: FaultyMongoRepository,
    sqlite_repo: SqlAlchemyTareaRepository,
    mongo_repo: MongoTareaRepository,
    sqlite_engine: Engine,
    logs: pytest.LogCaptureFixture,
) -> None:
    hung, healthy_view = (sql, mongo_repo) if hung_store == "sql" else (mongo, sqlite_repo)
    hung.hang("save")
    tarea = Tarea.crear("con un almacén colgado")

    started = time.monotonic()
    assert dual.save(tarea) == tarea
    elapsed = time.monotonic() - started

    assert TIMEOUT_SECONDS * 0.9 <= elapsed < TIMEOUT_SECONDS + 2.0
    assert healthy_view.get(tarea.id) == tarea
    name = "SQLAlchemy" if hung_store == "sql" else "MongoDB"
    assert _messages(logs, logging.WARNING) == [
        f"⚠️ {name} falló: {hung_store} unavailable: timed out after {TIMEOUT_SECONDS:g}s"
    ]
    # A hung Mongo write is replayed like a failed one.
    assert len(_outbox_rows(sqlite_engine)) == (1 if hung_store == "mongo" else 0)


def test_eliminar_deletes_from_both_stores(
    dual: DualTareaRepository,
    sqlite_repo: SqlAlchemyTareaRepository,
    mongo_repo: MongoTareaRepository,
    logs: pytest.LogCaptureFixture,
) -> None:
    tarea = dual.save(Tarea.crear("borrar"))

    assert dual.eliminar(tarea.id) is True

    assert sqlite_repo.get(tarea.id) is None
    assert mongo_repo.get(tarea.id) is None
    assert f"🔄 Dual-Delete iniciado para tarea {tarea.id}" in _messages(logs, logging.INFO)
    assert dual.eliminar(tarea.id) is False
    assert dual.eliminar(uuid4()) is False


def test_eliminar_with_mongo_failing_is_replayed_as_a_tombstone(
    dual: DualTareaRepository,
    mongo: FaultyMongoRepository,
    sqlite_repo: SqlAlchemyTareaRepository,
    mongo_repo: MongoTareaRepository,
    sqlite_engine: Engine,
    sql_outbox: SqlOutbox,
    logs: pytest.LogCaptureFixture,
) -> None:
    tarea = dual.save(Tarea.crear("uno"))
    tarea = dual.save(tarea.actualizar(titulo="dos"))
    mongo.fail("eliminar")

    assert dual.eliminar(tarea.id) is True

    assert sqlite_repo.get(tarea.id) is None
    assert mongo_repo.get(tarea.id) == tarea  # still there until the replay
    assert "⚠️ MongoDB falló: mongo unavailable: injected eliminar failure" in _messages(logs, logging.WARNING)
    (row,) = _outbox_rows(sqlite_engine)
    assert (row["operation"], row["version"]) == (Operation.DELETE.value, 3)

    _replay(sql_outbox, mongo_repo)
    assert mongo_repo.get(tarea.id) is None
    # The tombstone keeps a late copy of version 2 from bringing the Tarea back.
    with pytest.raises(ConflictoDeVersionError):
        mongo_repo.save(tarea)


# -- reads: primary first, fallback on error or miss ----------------------------------------
def _diverging(
    sqlite_repo: SqlAlchemyTareaRepository, mongo_repo: MongoTareaRepository
) -> tuple[Tarea, Tarea]:
    """The same Tarea with different content in each store, to see which one answered."""
    in_sql = Tarea.crear("versión SQL")
    in_mongo = Tarea(
        id=in_sql.id, titulo="versión Mongo", created_at=in_sql.created_at, updated_at=in_sql.updated_at
    )
    return sqlite_repo.save(in_sql), mongo_repo.save(in_mongo)


def test_get_reads_sql_first(
    dual: DualTareaRepository,
    sqlite_repo: SqlAlchemyTareaRepository,
    mongo_repo: MongoTareaRepository,
    logs: pytest.LogCaptureFixture,
) -> None:
    in_sql, _ = _diverging(sqlite_repo, mongo_repo)
    assert dual.get(in_sql.id) == in_sql
    assert not _messages(logs, logging.INFO)


def test_get_falls_back_to_mongo_when_sql_fails(
    dual: DualTareaRepository,
    sql: FaultySqlRepository,
    sqlite_repo: SqlAlchemyTareaRepository,
    mongo_repo: MongoTareaRepository,
    logs: pytest.LogCaptureFixture,
) -> None:
    _, in_mongo = _diverging(sqlite_repo, mongo_repo)
    sql.fail("get")

    assert dual.get(in_mongo.id) == in_mongo

    assert _messages(logs, logging.WARNING) == [
        "⚠️ Error en SQLAlchemy: sql unavailable: injected get failure"
    ]
    assert _messages(logs, logging.INFO) == ["✓ Obtenido de MongoDB (fallback)"]


def test_get_falls_back_to_mongo_when_sql_misses(
    dual: DualTareaRepository, mongo_repo: MongoTareaRepository, logs: pytest.LogCaptureFixture
) -> None:
    only_mongo = mongo_repo.save(Tarea.crear("solo en Mongo"))

    assert dual.get(only_mongo.id) == only_mongo
    assert _messages(logs, logging.INFO) == ["✓ Obtenido de MongoDB (fallback)"]


def test_get_missing_everywhere_is_none_without_fallback_log(
    dual: DualTareaRepository, logs: pytest.LogCaptureFixture
) -> None:
    assert dual.get(uuid4()) is None
    assert not _messages(logs, logging.INFO)


def test_get_with_both_stores_failing_raises_the_primary_error(
    dual: DualTareaRepository, sql: FaultySqlRepository, mongo: FaultyMongoRepository
) -> None:
    sql.fail("get")
    mongo.fail("get")
    with pytest.raises(StoreUnavailableError) as info:
        dual.get(uuid4())
    assert info.value.store == "sql"


def test_get_with_sql_missing_and_mongo_failing_is_none(
    dual: DualTareaRepository, mongo: FaultyMongoRepository, logs: pytest.LogCaptureFixture
) -> None:
    mongo.fail("get")
    assert dual.get(uuid4()) is None
    assert _messages(logs, logging.ERROR) == ["❌ Error en MongoDB: mongo unavailable: injected get failure"]


def test_mongo_as_primary_reads_mongo_first_and_falls_back_to_sql(
    sql: FaultySqlRepository,
    mongo: FaultyMongoRepository,
    executor: ThreadPoolExecutor,
    sqlite_repo: SqlAlchemyTareaRepository,
    mongo_repo: MongoTareaRepository,
    logs: pytest.LogCaptureFixture,
) -> None:
    dual = _dual(sql, mongo, executor, primary=PrimaryStore.MONGO)
    _, in_mongo = _diverging(sqlite_repo, mongo_repo)
    only_sql = sqlite_repo.save(Tarea.crear("solo en SQL"))

    assert dual.get(in_mongo.id) == in_mongo
    assert not _messages(logs, logging.INFO)
    assert dual.get(only_sql.id) == only_sql
    assert _messages(logs, logging.INFO) == ["✓ Obtenido de SQLAlchemy (fallback)"]
    assert dual.list() == [in_mongo]
    assert dual.count() == 1


def test_list_and_count_fall_back_only_on_error(
    dual: DualTareaRepository,
    sql: FaultySqlRepository,
    mongo_repo: MongoTareaRepository,
    logs: pytest.LogCaptureFixture,
) -> None:
    in_mongo = [mongo_repo.save(Tarea.crear(f"m{i}", estado=EstadoTarea.COMPLETADA)) for i in range(2)]

    # An empty answer from SQL is an answer, not a miss.
    assert dual.list() == []
    assert dual.count() == 0
    assert not _messages(logs, logging.INFO)

    sql.fail("list", "count")
    assert sorted(t.id for t in dual.list(estado=EstadoTarea.COMPLETADA)) == sorted(t.id for t in in_mongo)
    assert dual.count() == 2
    assert _messages(logs, logging.INFO) == ["✓ Obtenido de MongoDB (fallback)"] * 2


def test_list_with_both_stores_failing_raises_the_primary_error(
    dual: DualTareaRepository, sql: FaultySqlRepository, mongo: FaultyMongoRepository
) -> None:
    sql.fail("list")
    mongo.fail("list")
    with pytest.raises(StoreUnavailableError) as info:
        dual.list()
    assert info.value.store == "sql"


# -- queued mode ----------------------------------------------------------------------------
@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def queued(
    sql: FaultySqlRepository,
    mongo: FaultyMongoRepository,
    executor: ThreadPoolExecutor,
    sql_outbox: SqlOutbox,
    publisher: RecordingPublisher,
) -> DualTareaRepository:
    return DualTareaRepository(
        sql_repository=sql,
        mongo_repository=mongo,
        mode=DualWriteMode.QUEUED,
        timeout_seconds=TIMEOUT_SECONDS,
        executor=executor,
        outbox=sql_outbox,
        publisher=publisher,
    )


def test_queued_save_commits_sql_and_the_event_then_a_worker_applies_it(
    queued: DualTareaRepository,
    mongo: FaultyMongoRepository,
    publisher: RecordingPublisher,
    sqlite_repo: SqlAlchemyTareaRepository,
    mongo_repo: MongoTareaRepository,
    sqlite_engine: Engine,
    sql_outbox: SqlOutbox,
    logs: pytest.LogCaptureFixture,
) -> None:
    mongo.fail("save", "eliminar")  # the request path must not touch MongoDB at all
    tarea = Tarea.crear("encolada")

    assert queued.save(tarea) == tarea

    assert sqlite_repo.get(tarea.id) == tarea
    assert mongo_repo.get(tarea.id) is None
    (row,) = _outbox_rows(sqlite_engine)
    assert (row["status"], row["tarea_id"]) == ("pending", str(tarea.id))
    assert row["dispatched_at"] is not None
    assert publisher.batches == [[row["id"]]]
    assert _messages(logs, logging.INFO) == [
        f"🔄 Dual-Write iniciado para tarea {tarea.id}",
        f"✅ Escritura SQL confirmada; réplica MongoDB encolada (eventos {[row['id']]})",
    ]

    outcome = AplicarReplicacionUseCase(sql_outbox, mongo_repo).execute(publisher.published_ids)
    assert outcome.applied == 1
    assert mongo_repo.get(tarea.id) == tarea

    assert queued.eliminar(tarea.id) is True
    AplicarReplicacionUseCase(sql_outbox, mongo_repo).execute(publisher.published_ids)
    assert mongo_repo.get(tarea.id) is None
    assert queued.eliminar(tarea.id) is False


def test_queued_save_with_the_queue_down_leaves_the_event_to_the_relay(
    queued: DualTareaRepository,
    publisher: RecordingPublisher,
    sqlite_repo: SqlAlchemyTareaRepository,
    sqlite_engine: Engine,
    sql_outbox: SqlOutbox,
    logs: pytest.LogCaptureFixture,
) -> None:
    publisher.fail_with = ConnectionError("broker down")
    tarea = Tarea.crear("sin cola")

    assert queued.save(tarea) == tarea

    assert sqlite_repo.get(tarea.id) == tarea
    (row,) = _outbox_rows(sqlite_engine)
    assert row["dispatched_at"] is None
    assert _messages(logs, logging.WARNING) == ["⚠️ Cola no disponible, el relay reenviará: broker down"]

    publisher.fail_with = None
    assert RelayOutboxUseCase(sql_outbox, publisher).execute(batch_size=10) == 1
    assert publisher.published_ids == [row["id"]]


def test_queued_save_with_sql_down_fails_and_publishes_nothing(
    queued: DualTareaRepository,
    sql: FaultySqlRepository,
    publisher: RecordingPublisher,
    sqlite_engine: Engine,
) -> None:
    # Queued writes go through save_and_record; break the engine under it.
    sql._engine = sa.create_engine("sqlite:////nonexistent/dir/x.db")

    with pytest.raises(StoreUnavailableError) as info:
        queued.save(Tarea.crear("nada"))

    assert info.value.store == "sql"
    assert publisher.batches == []
    assert _outbox_rows(sqlite_engine) == []
