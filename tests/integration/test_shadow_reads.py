"""Shadow reads against the real stores: matches, a document altered directly in MongoDB
caught as a mismatch, samples for operators, Prometheus counters; the client always
gets SQL's answer."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from core.domain.models.migration_stage import MigrationStage
from core.domain.models.shadow_read import FieldDifference, ShadowMismatch
from core.domain.models.tarea import utc_now
from infrastructure.migration.shadow import SqlShadowRecorder
from tests.support.migration_stack import ADMIN, StagedStack
from tests.support.services import MongoServer, wait_for

pytestmark = pytest.mark.integration


def shadow_count(result: str) -> float:
    return REGISTRY.get_sample_value("dualwrite_shadow_reads_total", {"result": result}) or 0.0


@pytest.fixture(scope="module")
def stack(mongo_server: MongoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagedStack]:
    started = StagedStack(tmp_path_factory.mktemp("shadow"), mongo_server).start()
    yield started
    started.stop()


@pytest.fixture
def client(stack: StagedStack) -> Iterator[TestClient]:
    with stack.client() as http:
        yield http


def move(client: TestClient, stage: MigrationStage) -> None:
    response = client.put("/admin/migration/stage", json={"stage": stage.value}, headers=ADMIN)
    assert response.status_code == 200, response.text


def test_shadow_stage_compares_reads_and_keeps_mismatch_samples(
    stack: StagedStack, client: TestClient
) -> None:
    tareas = [client.post("/tareas", json={"titulo": f"sombra {i}"}).json() for i in range(6)]
    move(client, MigrationStage.DUAL_WRITE)  # backfills MongoDB
    stack.wait_drained()
    move(client, MigrationStage.SHADOW)
    matches = shadow_count("match")
    for tarea in tareas:
        response = client.get(f"/tareas/{tarea['id']}")
        assert response.status_code == 200 and response.headers["X-Read-Source"] == "sql"
    wait_for(lambda: shadow_count("match") >= matches + len(tareas), 10, message="shadow matches")
    assert client.get("/admin/migration/shadow-mismatches", headers=ADMIN).json() == []

    victim = tareas[2]
    stack.container.mongo_repository.collection.update_one(
        {"_id": victim["id"]}, {"$set": {"titulo": "alterada en Mongo", "estado": "cancelada"}}
    )
    mismatches = shadow_count("mismatch")
    answered = client.get(f"/tareas/{victim['id']}")
    assert answered.json()["titulo"] == "sombra 2"  # the authoritative answer, always
    wait_for(lambda: shadow_count("mismatch") == mismatches + 1, 10, message="shadow mismatch counted")
    samples = client.get("/admin/migration/shadow-mismatches", headers=ADMIN).json()
    assert len(samples) == 1 and samples[0]["tarea_id"] == victim["id"]
    assert {(d["field"], d["authoritative"], d["replica"]) for d in samples[0]["differences"]} == {
        ("titulo", "sombra 2", "alterada en Mongo"),
        ("estado", "pendiente", "cancelada"),
    }
    metrics = client.get("/metrics").text
    assert 'dualwrite_shadow_reads_total{result="mismatch"}' in metrics


def ensure_stage(stack: StagedStack, client: TestClient, stage: MigrationStage) -> None:
    stack.wait_drained()
    if stack.container.migration.current_stage() is not stage:
        move(client, stage)


def test_replication_lag_is_stale_not_a_mismatch_and_only_shadow_compares(
    stack: StagedStack, client: TestClient
) -> None:
    ensure_stage(stack, client, MigrationStage.DUAL_WRITE)
    created = client.post("/tareas", json={"titulo": "con retraso"}).json()
    ensure_stage(stack, client, MigrationStage.SHADOW)
    stack.worker.stop()  # the update stays in the outbox: MongoDB keeps version 1
    try:
        updated = client.patch(f"/tareas/{created['id']}", json={"titulo": "v2"}).json()
        assert updated["version"] == 2
        stale, mismatches = shadow_count("stale"), shadow_count("mismatch")
        response = client.get(f"/tareas/{created['id']}")
        assert response.json()["titulo"] == "v2"
        assert float(response.headers["X-Replication-Lag-Seconds"]) > 0
        wait_for(lambda: shadow_count("stale") == stale + 1, 10, message="stale shadow read")
        assert shadow_count("mismatch") == mismatches
    finally:
        stack.worker.start()
    ensure_stage(stack, client, MigrationStage.DUAL_WRITE)
    compared = sum(shadow_count(r) for r in ("match", "mismatch", "stale", "error"))
    client.get(f"/tareas/{created['id']}")
    time.sleep(0.3)  # a comparison, if one were scheduled, would have run by now
    assert sum(shadow_count(r) for r in ("match", "mismatch", "stale", "error")) == compared


def test_only_the_last_mismatch_samples_are_kept(sqlite_engine) -> None:
    recorder = SqlShadowRecorder(sqlite_engine, keep_last=3)
    ids = [uuid.uuid4() for _ in range(5)]
    for tarea_id in ids:
        recorder.keep(ShadowMismatch(tarea_id, (FieldDifference("titulo", "a", "b"),), utc_now()))
    kept = recorder.recent(10)
    assert [m.tarea_id for m in kept] == list(reversed(ids[-3:]))
    assert kept[0].differences == (FieldDifference("titulo", "a", "b"),)
