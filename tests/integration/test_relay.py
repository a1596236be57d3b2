"""The outbox relay: exclusive claims, bounded batches, pruning, lost messages, SQLite,
and replay of the threadpool mode's failed Mongo writes. Real PostgreSQL/SQLite, a
private Redis, real worker processes and the Mongo-compatible server."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
import redis
import sqlalchemy as sa

from core.domain.models.replication import EventStatus, ReplicationEvent
from core.domain.models.tarea import Tarea, utc_now
from infrastructure.container import bootstrap
from infrastructure.messaging.relay_loop import run_relay
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.outbox.outbox_store import SqlOutbox
from infrastructure.sqlalchemy.schema import outbox, outbox_attempts
from tests.support.services import MongoServer, PostgresDatabase
from tests.support.stack import ReplicationStack, assert_replica_matches

pytestmark = pytest.mark.integration

CLAIM_BATCH = 7


def _id(body: dict[str, object]) -> UUID:
    return UUID(str(body["id"]))


def record_pending(store: SqlOutbox, count: int) -> list[int]:
    """Events never handed to the queue (``dispatched_at`` NULL)."""
    events = [ReplicationEvent.upsert(Tarea.crear(f"pending {n}")) for n in range(count)]
    return [event.event_id for event in store.record(events)]


def claim_concurrently(store: SqlOutbox, relays: int) -> list[list[list[int]]]:
    """Run ``relays`` claim loops at once; return each relay's claimed batches."""
    start = threading.Barrier(relays)
    claimed: list[list[list[int]]] = [[] for _ in range(relays)]
    errors: list[BaseException] = []

    def relay(index: int) -> None:
        try:
            start.wait(timeout=10)
            while batch := store.claim_for_dispatch(CLAIM_BATCH):
                claimed[index].append(batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=relay, args=(i,)) for i in range(relays)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return claimed


def assert_exclusive_claims(
    claimed: list[list[list[int]]], expected: list[int], *, interleaved: bool = True
) -> None:
    batches = [batch for per_relay in claimed for batch in per_relay]
    assert all(1 <= len(batch) <= CLAIM_BATCH for batch in batches)
    flat = [event_id for batch in batches for event_id in batch]
    assert len(flat) == len(set(flat)), "an event was claimed twice"
    assert sorted(flat) == sorted(expected)
    if interleaved:
        assert all(per_relay for per_relay in claimed), "a relay claimed nothing: no concurrency"


def test_concurrent_relays_never_claim_the_same_event_on_postgresql(pg_engine) -> None:
    store = SqlOutbox(pg_engine)
    ids = record_pending(store, 400)
    assert_exclusive_claims(claim_concurrently(store, relays=3), ids)
    assert store.claim_for_dispatch(CLAIM_BATCH) == []  # claimed rows are not due again


def test_concurrent_relays_never_claim_the_same_event_on_sqlite(sqlite_engine) -> None:
    store = SqlOutbox(sqlite_engine)
    ids = record_pending(store, 200)
    # SQLite serialises writers, so one relay may legitimately win every round.
    assert_exclusive_claims(claim_concurrently(store, relays=2), ids, interleaved=False)


def test_done_events_are_pruned_after_the_retention(pg_database: PostgresDatabase, pg_engine) -> None:
    store = SqlOutbox(pg_engine)
    old_done, recent_done, pending, dead = (record_pending(store, 3) for _ in range(4))
    store.mark_done(old_done + recent_done)
    store.record_failure(dead, RuntimeError("mongo away"), dead=True)
    with pg_engine.begin() as conn:
        conn.execute(
            outbox.update().where(outbox.c.id.in_(old_done)).values(applied_at=utc_now() - timedelta(days=2))
        )
    container = bootstrap(
        Settings(
            orm="dual",
            database_url=pg_database.url,
            broker_url="redis://127.0.0.1:1/0",  # never used: nothing is due for dispatch
            outbox_retention_seconds=86400,
        )
    )
    with pg_engine.begin() as conn:  # nothing pending is due, so the round only prunes
        conn.execute(outbox.update().where(outbox.c.id.in_(pending)).values(dispatched_at=utc_now()))
    try:
        assert run_relay(container, threading.Event(), once=True) == 0
    finally:
        container.close()

    with pg_engine.connect() as conn:
        left = dict(conn.execute(sa.select(outbox.c.id, outbox.c.status)).all())
        attempts = conn.execute(sa.select(outbox_attempts.c.event_id)).scalars().all()
    assert sorted(left) == sorted(recent_done + pending + dead)
    assert {left[i] for i in dead} == {EventStatus.DEAD.value}
    assert sorted(attempts) == sorted(dead)  # dead letters keep their attempt history


@pytest.fixture
def idle_stack(tmp_path: Path, mongo_server: MongoServer) -> Iterator[ReplicationStack]:
    """A stack whose worker is started by the test, so queued messages can be inspected."""
    stack = ReplicationStack(
        tmp_path, mongo_server, relay_batch_size=CLAIM_BATCH, relay_redispatch_after_seconds=2
    ).start(with_worker=False)
    yield stack
    stack.stop()


def queued_batches(stack: ReplicationStack) -> list[list[int]]:
    """The event ids of every replication task waiting in the private Redis."""
    client = redis.Redis.from_url(stack.redis.url)
    try:
        messages = client.lrange(stack.settings.replication_queue, 0, -1)
    finally:
        client.close()
    batches = []
    for raw in messages:
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        batches.append(list(args[0]))
    return batches


def test_relay_publishes_bounded_batches_that_the_worker_applies(idle_stack: ReplicationStack) -> None:
    container = idle_stack.container
    tareas = [container.sql_repository.save(Tarea.crear(f"relay {n}")) for n in range(30)]
    ids = [e.event_id for e in container.outbox.record([ReplicationEvent.upsert(t) for t in tareas])]

    assert idle_stack.relay_once() == 30
    batches = queued_batches(idle_stack)
    assert sorted(len(batch) for batch in batches) == [2, 7, 7, 7, 7]
    assert sorted(i for batch in batches for i in batch) == ids
    assert idle_stack.relay_once() == 0  # dispatched events are not resent before the timeout

    idle_stack.worker.start()
    idle_stack.wait_drained()
    assert idle_stack.count_status(EventStatus.DONE) == 30
    assert_replica_matches(idle_stack.sql_tareas(), idle_stack.mongo_documents())


def test_messages_lost_by_redis_are_resent_after_the_redispatch_timeout(
    idle_stack: ReplicationStack,
) -> None:
    client = idle_stack.client()
    for n in range(5):
        assert client.post("/tareas", json={"titulo": f"lost {n}"}).status_code == 201
    assert len(queued_batches(idle_stack)) == 5
    idle_stack.redis.stop()  # a crash: every queued message is gone
    idle_stack.redis.start()
    assert queued_batches(idle_stack) == []
    assert idle_stack.relay_once() == 0  # handed over moments ago: not due yet

    time.sleep(idle_stack.settings.relay_redispatch_after_seconds + 0.2)
    assert idle_stack.relay_once() == 5
    idle_stack.worker.start()
    idle_stack.wait_drained()
    assert_replica_matches(idle_stack.sql_tareas(), idle_stack.mongo_documents())


def test_relay_and_worker_on_sqlite(tmp_path: Path, mongo_server: MongoServer) -> None:
    database_url = f"sqlite:///{tmp_path / 'dualwrite.db'}"
    stack = ReplicationStack(tmp_path, mongo_server, database_url=database_url).start()
    try:
        client = stack.client()
        stack.redis.stop()
        created = [client.post("/tareas", json={"titulo": f"sqlite {n}"}).json() for n in range(12)]
        assert client.delete(f"/tareas/{created[0]['id']}").status_code == 204
        assert all(row["dispatched_at"] is None for row in stack.outbox_rows())
        stack.redis.start()

        assert stack.relay_once() == 13
        stack.wait_drained()
        assert stack.count_status(EventStatus.DONE) == 13
        assert_replica_matches(stack.sql_tareas(), stack.mongo_documents())
        assert stack.mongo_documents()[stack.sql_tareas().popitem()[0]]["version"] == 1
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def flaky_mongo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """A Mongo server of this module's own, so stopping it disturbs no other test."""
    server = MongoServer(tmp_path_factory.mktemp("flaky-mongo") / "db").start()
    yield server
    server.stop()


def test_threadpool_mode_failed_mongo_writes_are_replayed(tmp_path: Path, flaky_mongo: MongoServer) -> None:
    stack = ReplicationStack(
        tmp_path, flaky_mongo, dual_write_mode="threadpool", mongo_timeout_ms=300
    ).start()
    try:
        client = stack.client()
        before = [client.post("/tareas", json={"titulo": f"before {n}"}).json() for n in range(2)]
        assert stack.outbox_rows() == []  # both stores written: nothing to replay
        flaky_mongo.stop()

        for n in range(4):
            assert client.post("/tareas", json={"titulo": f"during {n}"}).status_code == 201
        patched = client.patch(f"/tareas/{before[0]['id']}", json={"estado": "completada"})
        assert patched.status_code == 200 and patched.json()["version"] == 2
        assert client.delete(f"/tareas/{before[1]['id']}").status_code == 204

        rows = stack.outbox_rows()
        assert [row["operation"] for row in rows] == ["upsert"] * 5 + ["delete"]
        assert all(row["status"] == "pending" and row["dispatched_at"] is None for row in rows)
        assert rows[-1]["version"] == 2  # the delete outranks the Tarea's last version

        flaky_mongo.start()
        assert stack.relay_once() == 6
        stack.wait_drained()
        assert stack.count_status(EventStatus.DONE) == 6
        documents = stack.mongo_documents()
        assert_replica_matches(stack.sql_tareas(), documents)
        assert documents[_id(before[1])]["deleted"] is True
        assert documents[_id(before[0])]["estado"] == "completada"
    finally:
        if flaky_mongo.process is None:
            flaky_mongo.start()
        stack.stop()
