"""MongoDB authoritative, SQL replicated (``mongo_primary``) against real PostgreSQL and
the MongoDB-compatible server: intents, state-based apply, tombstones, the write fence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from core.domain.errors import ConflictoDeVersionError, StoreUnavailableError
from core.domain.models.migration_stage import Store
from core.domain.models.replication import EventStatus, ReplicationEvent
from core.domain.models.tarea import Tarea, utc_now
from infrastructure.migration.mongo_primary_repository import MongoPrimaryTareaRepository
from infrastructure.migration.replica_router import ReplicaRouter
from infrastructure.migration.sql_replica import AuthoritativeState, MongoStateReader, SqlReplicaWriter
from infrastructure.migration.tables import tarea_tombstones
from infrastructure.migration.write_fence import WriteFence
from infrastructure.sqlalchemy.outbox.outbox_store import SqlOutbox
from infrastructure.sqlalchemy.repository.tarea_repository import SqlAlchemyTareaRepository
from infrastructure.sqlalchemy.schema import outbox
from tests.support.fakes import RecordingPublisher

pytestmark = pytest.mark.integration


@pytest.fixture
def clean_pg(pg_engine):
    with pg_engine.begin() as conn:
        conn.execute(tarea_tombstones.delete())
    return pg_engine


@pytest.fixture(params=["postgresql", "sqlite"])
def sql_engine(request: pytest.FixtureRequest):
    """Both SQL dialects: the tombstone upsert is dialect-specific."""
    return request.getfixturevalue("clean_pg" if request.param == "postgresql" else "sqlite_engine")


class FixedStates(MongoStateReader):
    """MongoDB's answer frozen in time: a late worker that read an old document."""

    def __init__(self, states: list[AuthoritativeState]) -> None:
        self._states = states

    def states(self, tarea_ids: Sequence[UUID]) -> list[AuthoritativeState]:
        return list(self._states)


def pending_rows(engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = sa.select(outbox).where(outbox.c.status == EventStatus.PENDING.value).order_by(outbox.c.id)
        return [dict(r) for r in conn.execute(query).mappings()]


def test_sql_replica_applies_mongos_current_state_and_never_resurrects(sql_engine, mongo_repo) -> None:
    clean_pg = sql_engine
    sql = SqlAlchemyTareaRepository(clean_pg)
    replica = SqlReplicaWriter(clean_pg, MongoStateReader(mongo_repo.collection))
    v1 = mongo_repo.save(Tarea.crear("uno"))
    assert replica.apply([ReplicationEvent.upsert(v1, target=Store.SQL)]).applied == 1
    assert sql.get(v1.id) == v1
    v3 = mongo_repo.save(mongo_repo.save(v1.actualizar(titulo="dos")).actualizar(titulo="tres"))
    # An event recorded for version 2 arrives late: the state it replicates is today's.
    assert (
        replica.apply([ReplicationEvent.upsert(v1.actualizar(titulo="dos"), target=Store.SQL)]).applied == 1
    )
    assert sql.get(v1.id) == v3
    assert replica.apply([ReplicationEvent.upsert(v3, target=Store.SQL)]).applied == 0  # duplicate
    assert mongo_repo.eliminar(v1.id)
    delete = ReplicationEvent.delete(v1.id, v3.version + 1, utc_now(), target=Store.SQL)
    assert replica.apply([delete]).applied == 1
    assert sql.get(v1.id) is None
    late = SqlReplicaWriter(clean_pg, FixedStates([v3]))
    assert late.apply([ReplicationEvent.upsert(v3, target=Store.SQL)]).applied == 0
    assert sql.get(v1.id) is None and sql.count() == 0  # the tombstone held


def test_mongo_primary_writes_record_an_intent_then_mongo_then_dispatch(clean_pg, mongo_repo) -> None:
    sql = SqlAlchemyTareaRepository(clean_pg)
    sql_outbox = SqlOutbox(clean_pg)
    publisher = RecordingPublisher()
    repo = MongoPrimaryTareaRepository(mongo_repo, clean_pg, sql_outbox, publisher)
    router = ReplicaRouter(
        lambda store: (
            SqlReplicaWriter(clean_pg, MongoStateReader(mongo_repo.collection))
            if store is Store.SQL
            else mongo_repo
        )
    )

    tarea = repo.save(Tarea.crear("autoritativa en Mongo"))
    assert mongo_repo.get(tarea.id) == tarea
    (intent,) = pending_rows(clean_pg)
    assert (intent["target"], intent["tarea_id"]) == ("sql", str(tarea.id))
    assert publisher.published_ids == [intent["id"]]
    events = sql_outbox.load(publisher.published_ids)
    assert [e.target for e in events] == [Store.SQL]
    router.apply(events)
    sql_outbox.mark_done(publisher.published_ids)
    assert sql.get(tarea.id) == tarea

    # A MongoDB write that fails (here another writer got version 2 in first) replicates
    # nothing of its own: its event is released to the relay at once and carries
    # whatever MongoDB holds when applied.
    winner = mongo_repo.save(tarea.actualizar(titulo="ganadora"))
    with pytest.raises(ConflictoDeVersionError):
        repo.save(tarea.actualizar(titulo="perdida"))
    (released,) = pending_rows(clean_pg)
    assert released["dispatched_at"] is None
    router.apply(sql_outbox.load([released["id"]]))
    sql_outbox.mark_done([released["id"]])
    assert sql.get(tarea.id) == winner == mongo_repo.get(tarea.id)
    tarea = winner

    # SQL holding a version MongoDB lacks (a write from the previous stage, not yet
    # replicated) refuses the write before MongoDB is touched.
    sql.save(tarea.actualizar(titulo="desde SQL"))
    with pytest.raises(ConflictoDeVersionError):
        repo.save(tarea.actualizar(titulo="desde Mongo"))
    assert mongo_repo.get(tarea.id) == tarea and pending_rows(clean_pg) == []

    publisher.fail_with = ConnectionError("queue down")
    assert repo.eliminar(tarea.id) is True
    (delete,) = pending_rows(clean_pg)
    assert (delete["operation"], delete["dispatched_at"]) == ("delete", None)  # left to the relay


def test_write_fence_holds_writes_until_replication_into_the_authority_is_applied(clean_pg) -> None:
    fence = WriteFence(clean_pg)
    sql_outbox = SqlOutbox(clean_pg)
    tarea = Tarea.crear("en traspaso")
    fence.check(tarea.id, Store.SQL)
    (event,) = sql_outbox.record([ReplicationEvent.upsert(tarea, target=Store.SQL)])
    with pytest.raises(StoreUnavailableError, match="still being replicated"):
        fence.check(tarea.id, Store.SQL)
    fence.check(tarea.id, Store.MONGO)  # nothing pending into MongoDB
    fence.check(Tarea.crear("otra").id, Store.SQL)
    sql_outbox.mark_done([event.event_id])
    fence.check(tarea.id, Store.SQL)
