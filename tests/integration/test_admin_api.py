"""The admin API on real PostgreSQL, a private Redis, the Mongo-compatible server and
(for replay) a real Celery worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.domain.errors import StoreUnavailableError
from core.domain.models.replication import EventStatus
from core.domain.models.tarea import Tarea, utc_now
from infrastructure.container import Container, bootstrap
from infrastructure.mapping.tarea_mapping import tarea_from_document
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.schema import outbox
from tests.support.ops import (
    ADMIN_TOKEN,
    count_rows,
    drop_mongo,
    ops_container,
    ops_settings,
    record_dead,
    record_pending,
    settings_env,
)
from tests.support.services import CeleryWorker, RedisServer, wait_for

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

ENDPOINTS = [
    ("GET", "/admin/replication/status"),
    ("GET", "/admin/events"),
    ("GET", "/admin/events/1"),
    ("POST", "/admin/events/1/replay"),
    ("POST", "/admin/events/replay"),
    ("DELETE", "/admin/events/1?confirm=true"),
    ("POST", "/admin/events/purge?confirm=true"),
]


@pytest.fixture(scope="module")
def redis(tmp_path_factory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def values(pg_engine, pg_database, mongo_server, redis) -> dict[str, object]:
    return ops_settings(pg_database.url, mongo_server.url, redis.url)


@pytest.fixture
def container(values) -> Iterator[Container]:
    container = ops_container(values)
    yield container
    drop_mongo(container)
    container.close()


@pytest.fixture
def client(container) -> TestClient:
    return TestClient(create_app(lambda: container))


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_admin_endpoint_refuses_a_missing_or_wrong_token(client, method, path):
    missing = client.request(method, path)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"] == "unauthorized"
    not_bearer = client.request(method, path, headers={"Authorization": f"Basic {ADMIN_TOKEN}"})
    assert not_bearer.status_code == 401
    wrong = client.request(method, path, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    assert wrong.json() == {"error": "forbidden", "detail": "the admin token is not valid"}
    for response in (missing, not_bearer, wrong):
        assert ADMIN_TOKEN not in response.text


def test_admin_api_is_disabled_without_a_configured_token(values):
    container = bootstrap(Settings(**{**values, "admin_token": None}))
    try:
        response = TestClient(create_app(lambda: container)).get("/admin/events", headers=AUTH)
    finally:
        container.close()
    assert response.status_code == 503
    assert response.json() == {
        "error": "admin_disabled",
        "detail": "admin API disabled: set DUALWRITE_ADMIN_TOKEN",
    }


def test_status_reports_backlog_lag_dead_letters_and_unreachable_workers(client, container):
    record_pending(container, Tarea.crear("old"), created_at=utc_now() - timedelta(seconds=120))
    container.sql_repository.save_and_record(Tarea.crear("handed over"))
    _, retrying = container.sql_repository.save_and_record(Tarea.crear("failing"))
    container.outbox.record_failure([retrying.event_id], StoreUnavailableError("mongo", "down"), dead=False)
    record_dead(container, ValueError("bad"), count=2)
    container.mongo_repository.save(Tarea.crear("in mongo"))

    started = time.monotonic()
    response = client.get("/admin/replication/status", headers=AUTH)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    body = response.json()
    assert body["outbox"] == {
        "pending": 3,
        "waiting": 1,
        "in_flight": 1,
        "retrying": 1,
        "dead": 2,
        "oldest_pending_at": body["outbox"]["oldest_pending_at"],
    }
    assert 120 <= body["lag_seconds"] < 180
    assert body["workers"]["reachable"] is False  # no worker listens on this private broker
    assert elapsed < 5
    assert body["stores"] == {"sql": {"tareas": 4}, "mongo": {"tareas": 1}}
    assert body["last_applied_at"] is None


def test_events_are_filtered_and_paginated(client, container):
    unavailable = record_dead(container, StoreUnavailableError("mongo", "down"), count=3)
    record_dead(container, ValueError("bad payload"), count=1)
    container.sql_repository.save_and_record(Tarea.crear("pending"))

    first = client.get(
        "/admin/events",
        params={"status": "dead", "error_type": "StoreUnavailableError", "limit": 2},
        headers=AUTH,
    ).json()
    assert [e["id"] for e in first["items"]] == unavailable[:2]
    assert first["next_cursor"] == unavailable[1]
    second = client.get(
        "/admin/events",
        params={
            "status": "dead",
            "error_type": "StoreUnavailableError",
            "limit": 2,
            "cursor": first["next_cursor"],
        },
        headers=AUTH,
    ).json()
    assert [e["id"] for e in second["items"]] == unavailable[2:]
    assert second["next_cursor"] is None
    everything = client.get("/admin/events", headers=AUTH).json()["items"]
    assert {e["status"] for e in everything} == {"dead", "pending"}
    assert len(everything) == 5
    assert client.get("/admin/events", params={"operation": "delete"}, headers=AUTH).json()["items"] == []
    old_only = client.get("/admin/events", params={"older_than_seconds": 3600}, headers=AUTH).json()
    assert old_only["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"status": '{"$ne": "dead"}'},
        {"status": "$ne"},
        {"status": "done"},
        {"operation": "drop"},
        {"error_type": "$where"},
        {"error_type": '{"$gt": ""}'},
        {"error_type": "x" * 300},
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "ten"},
        {"older_than_seconds": "-1"},
        {"older_than_seconds": "NaN"},
        {"cursor": "-5"},
        {"status[$ne]": "dead"},
        {"$where": "1"},
        [("status", "dead"), ("status", "pending")],
    ],
)
def test_bad_filters_are_refused_with_422(client, params):
    for method, path in (("GET", "/admin/events"), ("POST", "/admin/events/replay")):
        response = client.request(method, path, params=params, headers=AUTH)
        assert response.status_code == 422, (params, response.text)
        assert "detail" in response.json()


def test_show_event_has_payload_and_every_attempt(client, container):
    _, event = container.sql_repository.save_and_record(Tarea.crear("shown", "con detalle"))
    container.outbox.record_failure([event.event_id], StoreUnavailableError("mongo", "first"), dead=False)
    container.outbox.record_failure([event.event_id], TimeoutError("second"), dead=True)

    body = client.get(f"/admin/events/{event.event_id}", headers=AUTH).json()

    assert body["status"] == "dead"
    assert body["payload"]["titulo"] == "shown"
    assert body["payload"]["descripcion"] == "con detalle"
    assert [(a["attempt"], a["error_type"]) for a in body["attempt_log"]] == [
        (1, "StoreUnavailableError"),
        (2, "TimeoutError"),
    ]
    assert "first" in body["attempt_log"][0]["error"]
    assert client.get("/admin/events/999999", headers=AUTH).status_code == 404
    assert client.get("/admin/events/abc", headers=AUTH).status_code == 422


def test_replayed_dead_letter_is_applied_by_a_real_worker(client, container, values, tmp_path):
    (dead,) = record_dead(container, StoreUnavailableError("mongo", "was down"))
    _, pending = container.sql_repository.save_and_record(Tarea.crear("still pending"))
    worker = CeleryWorker(settings_env(values), tmp_path / "worker.log", concurrency=1).start()
    try:
        assert client.post(f"/admin/events/{pending.event_id}/replay", headers=AUTH).status_code == 409
        assert client.post("/admin/events/424242/replay", headers=AUTH).status_code == 404
        workers = client.get("/admin/replication/status", headers=AUTH).json()["workers"]
        assert workers == {"reachable": True, "count": 1, "detail": ""}
        response = client.post(f"/admin/events/{dead}/replay", headers=AUTH)
        assert response.status_code == 200
        assert response.json() == {"replayed": 1, "event_ids": [dead]}
        wait_for(
            lambda: _status(container, dead) == EventStatus.DONE.value, 60, 0.2, "replayed event applied"
        )
    finally:
        worker.stop()
    detail = client.get(f"/admin/events/{dead}", headers=AUTH).json()
    document = container.mongo_repository.collection.find_one({"_id": detail["tarea_id"]})
    assert document is not None
    assert tarea_from_document(document).titulo == "dead 0"


def test_bulk_replay_redrives_only_matching_dead_letters(client, container):
    unavailable = record_dead(container, StoreUnavailableError("mongo", "down"), count=2)
    other = record_dead(container, ValueError("bad"), count=1)

    assert client.post("/admin/events/replay", params={"status": "pending"}, headers=AUTH).status_code == 422
    response = client.post(
        "/admin/events/replay", params={"error_type": "StoreUnavailableError"}, headers=AUTH
    )

    assert response.json() == {"replayed": 2, "event_ids": unavailable}
    assert [_status(container, i) for i in unavailable] == ["pending", "pending"]
    assert _status(container, other[0]) == "dead"


def test_delete_and_purge_need_confirmation_and_touch_only_dead_letters(client, container):
    dead = record_dead(container, StoreUnavailableError("mongo", "down"), count=3)
    _, pending = container.sql_repository.save_and_record(Tarea.crear("pending"))

    refused = client.delete(f"/admin/events/{dead[0]}", headers=AUTH)
    assert refused.status_code == 400
    assert refused.json()["error"] == "confirmation_required"
    assert client.post("/admin/events/purge", headers=AUTH).status_code == 400
    assert client.post("/admin/events/purge", json={"confirm": False}, headers=AUTH).status_code == 400
    assert client.delete(f"/admin/events/{pending.event_id}?confirm=true", headers=AUTH).status_code == 409

    deleted = client.delete(f"/admin/events/{dead[0]}?confirm=true", headers=AUTH)
    assert deleted.json() == {"purged": 1, "event_ids": [dead[0]]}
    purged = client.post("/admin/events/purge", json={"confirm": True}, headers=AUTH)
    assert purged.json() == {"purged": 2, "event_ids": dead[1:]}
    assert count_rows(container, outbox) == 1
    assert _status(container, pending.event_id) == "pending"


def test_metrics_expose_outbox_gauges_and_last_reconcile_drift(client, container):
    record_dead(container, ValueError("bad"), count=2)
    record_pending(container, Tarea.crear("late"), created_at=utc_now() - timedelta(seconds=30))
    container.mongo_repository.save(Tarea.crear("only in mongo"))
    container.reconciliar().execute(chunk_size=10)

    text = client.get("/metrics").text

    assert 'dualwrite_outbox_events{status="dead"} 2.0' in text
    assert 'dualwrite_outbox_events{status="waiting"} 1.0' in text
    assert "dualwrite_dead_letters 2.0" in text
    assert "dualwrite_outbox_up 1.0" in text
    lag = float(
        next(
            line for line in text.splitlines() if line.startswith("dualwrite_replication_lag_seconds ")
        ).split()[1]
    )
    assert 30 <= lag < 90
    # Two dead Tareas and the late one are in SQL only, but have undone events: only the
    # dead ones (not pending) count as missing; the Mongo-only Tarea is extra.
    assert 'dualwrite_reconcile_drift_documents{kind="extra"} 1.0' in text
    assert 'dualwrite_reconcile_drift_documents{kind="missing"} 2.0' in text
    assert "dualwrite_secondary_writes_total" in text or "dualwrite_write_duration_seconds" in text


def _status(container: Container, event_id: int) -> str:
    detail = container.obtener_evento().execute(event_id)
    return detail.event.status.value
