"""The queued dual write end to end: HTTP API -> SQL + outbox -> private Redis -> a real
Celery worker process -> the MongoDB-compatible server. Failure scenarios stop the
Mongo server or Redis for real."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
import sqlalchemy as sa

from core.domain.models.replication import EventStatus, ReplicationEvent
from core.domain.models.tarea import Tarea
from infrastructure.sqlalchemy.outbox.outbox_store import SqlOutbox
from infrastructure.sqlalchemy.schema import outbox, outbox_attempts
from tests.support.services import MongoServer, wait_for
from tests.support.stack import ReplicationStack, assert_replica_matches, timed

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(tmp_path: Path, mongo_server: MongoServer) -> Iterator[ReplicationStack]:
    stack = ReplicationStack(tmp_path, mongo_server).start()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def flaky_mongo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """A Mongo server of this module's own, so stopping it disturbs no other test."""
    server = MongoServer(tmp_path_factory.mktemp("flaky-mongo") / "db").start()
    yield server
    server.stop()


@pytest.fixture
def running_flaky_mongo(flaky_mongo: MongoServer) -> MongoServer:
    if flaky_mongo.process is None:
        flaky_mongo.start()
    return flaky_mongo


def _uuid(body: dict[str, object]) -> UUID:
    return UUID(str(body["id"]))


def post_tareas(client, count: int, prefix: str = "tarea") -> list[dict[str, object]]:
    created = []
    for n in range(count):
        response = client.post("/tareas", json={"titulo": f"{prefix} {n}", "descripcion": f"d{n}"})
        assert response.status_code == 201, response.text
        created.append(response.json())
    return created


def test_api_writes_reach_mongo_with_matching_versions(stack: ReplicationStack) -> None:
    client = stack.client()
    created = post_tareas(client, 500)
    updated = created[:20]
    for body in updated:
        response = client.patch(f"/tareas/{body['id']}", json={"estado": "en_progreso"})
        assert response.status_code == 200, response.text
        response = client.put(
            f"/tareas/{body['id']}", json={"titulo": "renamed", "estado": "completada", "expected_version": 2}
        )
        assert response.status_code == 200 and response.json()["version"] == 3, response.text
    deleted = created[20:30]
    for body in deleted:
        assert client.delete(f"/tareas/{body['id']}").status_code == 204

    stack.wait_drained(timeout=120)

    assert stack.count_status(EventStatus.DONE) == 500 + 2 * len(updated) + len(deleted)
    assert stack.count_status(EventStatus.DEAD) == 0
    sql, documents = stack.sql_tareas(), stack.mongo_documents()
    assert len(sql) == 490 and len(documents) == 500
    assert_replica_matches(sql, documents)
    assert all(sql[_uuid(body)].version == 3 for body in updated)
    mongo = stack.container.mongo_repository
    for body in deleted:
        tombstone = documents[_uuid(body)]
        assert tombstone["deleted"] is True and tombstone["version"] == 2
        assert mongo.get(_uuid(body)) is None
    assert mongo.count() == 490


def test_mongo_outage_is_retried_until_it_succeeds(tmp_path: Path, running_flaky_mongo: MongoServer) -> None:
    stack = ReplicationStack(
        tmp_path,
        running_flaky_mongo,
        retry_max=30,
        retry_backoff_seconds=1,
        retry_backoff_max_seconds=1,
        # While Mongo is away every attempt waits this long for a server.
        mongo_timeout_ms=300,
    ).start()
    try:
        client = stack.client()
        running_flaky_mongo.stop()
        created = post_tareas(client, 4, "during outage")
        # Every event fails at least twice while Mongo is away, and each failure is kept.
        wait_for(
            lambda: all(row["attempts"] >= 2 for row in stack.outbox_rows()),
            60,
            0.3,
            "two recorded attempts per event",
        )
        running_flaky_mongo.start()
        stack.wait_drained(timeout=90)

        rows = stack.outbox_rows()
        assert [row["status"] for row in rows] == ["done"] * len(created)
        attempts = Counter(row["event_id"] for row in stack.attempt_rows())
        assert all(attempts[row["id"]] == row["attempts"] >= 2 for row in rows)
        assert all(row["last_error_type"] == "StoreUnavailableError" for row in rows)
        assert_replica_matches(stack.sql_tareas(), stack.mongo_documents())
    finally:
        if running_flaky_mongo.process is None:
            running_flaky_mongo.start()
        stack.stop()


def test_events_past_max_retries_are_dead_lettered_then_replayed(
    tmp_path: Path, running_flaky_mongo: MongoServer
) -> None:
    retry_max = 2
    stack = ReplicationStack(
        tmp_path,
        running_flaky_mongo,
        retry_max=retry_max,
        retry_backoff_seconds=1,
        retry_backoff_max_seconds=1,
        # While Mongo is away every attempt waits this long for a server.
        mongo_timeout_ms=300,
    ).start()
    try:
        client = stack.client()
        running_flaky_mongo.stop()
        created = post_tareas(client, 4, "doomed")
        wait_for(lambda: stack.count_status(EventStatus.DEAD) == len(created), 60, 0.3, "dead letters")

        rows = stack.outbox_rows()
        assert all(row["attempts"] == retry_max + 1 for row in rows)
        assert all(row["last_error"] and "mongo unavailable" in row["last_error"] for row in rows)
        by_event: dict[int, list[int]] = {}
        for attempt in stack.attempt_rows():
            by_event.setdefault(attempt["event_id"], []).append(attempt["attempt"])
        assert by_event == {row["id"]: [1, 2, 3] for row in rows}

        running_flaky_mongo.start()
        assert stack.mongo_documents() == {}
        replayed = stack.container.replay_events().execute([row["id"] for row in rows])
        assert replayed == [row["id"] for row in rows]
        stack.wait_drained(timeout=60)
        assert stack.count_status(EventStatus.DONE) == len(created)
        assert_replica_matches(stack.sql_tareas(), stack.mongo_documents())
    finally:
        if running_flaky_mongo.process is None:
            running_flaky_mongo.start()
        stack.stop()


def test_redis_down_at_publish_keeps_writes_fast_and_the_relay_delivers(stack: ReplicationStack) -> None:
    client = stack.client()
    post_tareas(client, 3, "before")  # warm: connections to PG and Redis are open
    stack.wait_drained()
    # This test is about the write side. A worker losing its broker mid-ack can exit
    # (kombu raises AttributeError while restoring unacked messages); deployments run it
    # under a supervisor, so here it is simply stopped during the outage and started after.
    stack.worker.stop()
    stack.redis.stop()

    latencies = []
    for n in range(10):
        response, seconds = timed(client.post, "/tareas", json={"titulo": f"without redis {n}"})
        assert response.status_code == 201, response.text
        latencies.append(seconds)
    assert max(latencies) < 2.0, latencies
    waiting = [row for row in stack.outbox_rows() if row["status"] == "pending"]
    assert len(waiting) == 10 and all(row["dispatched_at"] is None for row in waiting)

    stack.redis.start()
    assert stack.relay_once() == 10
    stack.worker.start()
    stack.wait_drained(timeout=90)
    assert stack.count_status(EventStatus.DONE) == 13
    assert_replica_matches(stack.sql_tareas(), stack.mongo_documents())


def test_a_failure_reported_after_another_delivery_applied_the_event_changes_nothing(pg_engine) -> None:
    """Two deliveries of one event race: one applies it, the other then fails. The late
    failure must not count as an attempt of an event that is already done."""
    store = SqlOutbox(pg_engine)
    done, pending = (store.record([ReplicationEvent.upsert(Tarea.crear(t))])[0].event_id for t in "ab")
    store.mark_done([done])

    store.record_failure([done, pending], RuntimeError("mongo blip"), dead=False)

    with pg_engine.connect() as conn:
        attempts = conn.execute(sa.select(outbox_attempts.c.event_id, outbox_attempts.c.attempt)).all()
        counts = dict(conn.execute(sa.select(outbox.c.id, outbox.c.attempts)).all())
    assert attempts == [(pending, 1)]
    assert counts == {done: 0, pending: 1}
