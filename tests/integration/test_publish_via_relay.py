"""``DUALWRITE_PUBLISH_VIA=relay``: requests only commit their outbox row; PostgreSQL's
NOTIFY wakes the relay, which publishes. Real PostgreSQL, a private Redis, a real
Celery worker and the Mongo-compatible server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.domain.models.replication import ReplicationEvent
from core.domain.models.tarea import Tarea
from infrastructure.messaging.relay_loop import run_relay
from infrastructure.sqlalchemy.outbox.outbox_store import insert_events
from infrastructure.sqlalchemy.outbox.outbox_wakeup import OUTBOX_CHANNEL, PostgresNotifyWakeup
from infrastructure.sqlalchemy.repository.tarea_repository import SqlAlchemyTareaRepository
from infrastructure.sqlalchemy.schema import outbox
from tests.support.services import MongoServer
from tests.support.stack import ReplicationStack, assert_replica_matches

pytestmark = pytest.mark.integration

# Far longer than any wait below: only a notification can explain a prompt relay.
RELAY_INTERVAL_SECONDS = 30.0


def dispatched_at(engine: Engine, event_id: int) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.select(outbox.c.dispatched_at).where(outbox.c.id == event_id)).scalar_one()


@pytest.fixture
def listener(pg_engine: Engine) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    dsn = pg_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
        yield conn


def notified(conn: psycopg.Connection[tuple[object, ...]], within: float) -> bool:
    return any(True for _ in conn.notifies(timeout=within, stop_after=1))


def test_only_events_left_for_the_relay_notify_and_only_at_commit(pg_engine: Engine, listener) -> None:
    published_by_request = SqlAlchemyTareaRepository(pg_engine)
    left_to_relay = SqlAlchemyTareaRepository(pg_engine, mark_dispatched=False)

    _, event = published_by_request.save_and_record(Tarea.crear("the request publishes"))
    assert dispatched_at(pg_engine, event.event_id) is not None
    assert not notified(listener, within=0.3)

    with pytest.raises(RuntimeError), pg_engine.begin() as conn:  # rolled back: no one woken
        insert_events(conn, [ReplicationEvent.upsert(Tarea.crear("rolled back"))], dispatched=False)
        raise RuntimeError("rollback")
    assert not notified(listener, within=0.3)

    _, event = left_to_relay.save_and_record(Tarea.crear("the relay publishes"))
    assert dispatched_at(pg_engine, event.event_id) is None
    assert notified(listener, within=2.0)


def test_wakeup_returns_on_notify_and_on_stop(pg_engine: Engine) -> None:
    wakeup = PostgresNotifyWakeup(pg_engine)
    stop = threading.Event()
    try:
        started = time.perf_counter()
        wakeup.wait(0.2, stop)  # nothing announced: the timer ends it
        assert time.perf_counter() - started >= 0.2

        writer = SqlAlchemyTareaRepository(pg_engine, mark_dispatched=False)
        timer = threading.Timer(0.2, lambda: writer.save_and_record(Tarea.crear("wake up")))
        timer.start()
        started = time.perf_counter()
        wakeup.wait(RELAY_INTERVAL_SECONDS, stop)
        assert time.perf_counter() - started < 5.0
        timer.join()

        threading.Timer(0.2, stop.set).start()
        started = time.perf_counter()
        wakeup.wait(RELAY_INTERVAL_SECONDS, stop)
        assert time.perf_counter() - started < 2.0
    finally:
        wakeup.close()


@pytest.fixture
def relay_stack(tmp_path: Path, mongo_server: MongoServer) -> Iterator[ReplicationStack]:
    stack = ReplicationStack(
        tmp_path, mongo_server, publish_via="relay", relay_interval_seconds=RELAY_INTERVAL_SECONDS
    ).start()
    yield stack
    stack.stop()


def test_writes_reach_mongo_through_the_woken_relay(relay_stack: ReplicationStack) -> None:
    stop = threading.Event()
    relay = threading.Thread(target=run_relay, args=(relay_stack.container, stop), daemon=True)
    relay.start()
    try:
        with relay_stack.client() as client:
            ids: list[UUID] = []
            for n in range(20):
                response = client.post("/tareas", json={"titulo": f"via relay {n}"})
                assert response.status_code == 201, response.text
                ids.append(UUID(response.json()["id"]))
            started = time.perf_counter()
            relay_stack.wait_drained(timeout=RELAY_INTERVAL_SECONDS / 2)
            assert time.perf_counter() - started < RELAY_INTERVAL_SECONDS / 2
    finally:
        stop.set()
        relay.join(10)
    assert not relay.is_alive()
    assert set(ids) <= set(relay_stack.mongo_documents())
    assert_replica_matches(relay_stack.sql_tareas(), relay_stack.mongo_documents())
