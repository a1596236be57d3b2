"""One dataset walked through every migration stage and back while writes continue,
with a real worker process, PostgreSQL, a private Redis and the MongoDB-compatible
server; plus the guard rails, the CLI and read-your-write with ``min_version``."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.main import create_app
from cli.main import app as cli_app
from core.domain.models.migration_stage import MigrationStage
from core.domain.models.replication import EventStatus, ReplicationEvent
from core.domain.models.tarea import Tarea
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.schema import outbox
from tests.support.migration_stack import ADMIN, StagedStack, env_for
from tests.support.services import MongoServer, PostgresDatabase

pytestmark = pytest.mark.integration

S = MigrationStage
WALK = [
    S.DUAL_WRITE,
    S.SHADOW,
    S.MONGO_PRIMARY,
    S.MONGO_ONLY,
    S.MONGO_PRIMARY,
    S.SHADOW,
    S.DUAL_WRITE,
    S.SQL_ONLY,
    S.DUAL_WRITE,  # and forward once more, so both stores are compared at the end
]


@pytest.fixture(scope="module")
def stack(mongo_server: MongoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagedStack]:
    started = StagedStack(tmp_path_factory.mktemp("stages"), mongo_server).start()
    yield started
    started.stop()


@pytest.fixture
def client(stack: StagedStack) -> Iterator[TestClient]:
    with stack.client() as http:
        yield http


def put_stage(client: TestClient, stage: MigrationStage, **extra: Any):
    return client.put("/admin/migration/stage", json={"stage": stage.value, **extra}, headers=ADMIN)


def move_when_allowed(client: TestClient, stage: MigrationStage, timeout: float = 60) -> dict[str, Any]:
    """PUT the stage, retrying while a guard rail holds it (replication catching up)."""
    deadline = time.monotonic() + timeout
    while True:
        response = put_stage(client, stage, changed_by="walker")
        if response.status_code == 200:
            return dict(response.json())
        assert response.status_code == 409, response.text
        assert all("pending" in reason for reason in response.json()["detail"]), response.text
        assert time.monotonic() < deadline, f"guard rail never released: {response.text}"
        time.sleep(0.1)


@dataclass
class Writer:
    """One client writing as fast as it can with a short pause: create, update, delete.
    Keeps the last acknowledged state of every Tarea it touched."""

    client: TestClient
    acknowledged: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            live = [i for i, body in self.acknowledged.items() if body is not None]
            roll = self.rng.random()
            if roll < 0.45 or len(live) < 5:
                response = self.client.post("/tareas", json={"titulo": f"escrita {n}"})
                if response.status_code == 201:
                    self.acknowledged[response.json()["id"]] = response.json()
            elif roll < 0.85:
                tarea_id = self.rng.choice(live)
                response = self.client.patch(f"/tareas/{tarea_id}", json={"descripcion": f"cambio {n}"})
                if response.status_code == 200:
                    self.acknowledged[tarea_id] = response.json()
            else:
                tarea_id = self.rng.choice(live)
                response = self.client.delete(f"/tareas/{tarea_id}")
                if response.status_code == 204:
                    self.acknowledged[tarea_id] = None
            self.statuses[response.status_code] += 1
            time.sleep(0.01)


def test_walk_every_stage_forwards_and_back_while_writing(stack: StagedStack, client: TestClient) -> None:
    seeded = [client.post("/tareas", json={"titulo": f"semilla {i}"}).json() for i in range(30)]
    assert stack.container.mongo_repository.count() == 0  # sql_only: MongoDB untouched
    writer = Writer(client=stack.client())
    writer.acknowledged.update({body["id"]: body for body in seeded})
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    backfilled: dict[str, int] = {}
    try:
        for stage in WALK:
            result = move_when_allowed(client, stage)
            assert result["changed"] and result["to_stage"] == stage.value
            backfilled[f"{result['from_stage']}->{stage.value}"] = result["backfilled"]
            shown = client.get("/admin/migration/stage", headers=ADMIN).json()
            assert shown["stage"] == stage.value and shown["set_by_operator"] is True
            read = client.get(f"/tareas/{seeded[0]['id']}")
            assert read.headers["X-Read-Source"] == stage.plan.read.value
            assert float(read.headers["X-Replication-Lag-Seconds"]) >= 0
            time.sleep(1.0)  # writes keep flowing in this stage
    finally:
        writer.stop.set()
        thread.join(30)
    assert not thread.is_alive()
    stack.wait_drained()

    # Only expected answers: success, a version conflict or a 503 during an authority
    # handover (both ask the client to retry). Never a 500.
    assert set(writer.statuses) <= {200, 201, 204, 409, 503}, writer.statuses
    assert sum(writer.statuses[c] for c in (200, 201, 204)) > 100, writer.statuses
    # Replicas that start are backfilled: from SQL twice, from MongoDB once.
    assert backfilled["sql_only->dual_write"] > 0
    assert backfilled["mongo_only->mongo_primary"] > 0

    sql, mongo = stack.sql_tareas(), stack.mongo_tareas()
    assert sql == mongo
    for tarea_id, body in writer.acknowledged.items():
        stored = sql.get(uuid.UUID(tarea_id))
        if body is None:
            assert stored is None, f"deleted {tarea_id} came back"
        else:
            assert stored is not None, f"acknowledged {tarea_id} lost"
            assert (stored.version, stored.descripcion) == (body["version"], body["descripcion"])
    history = client.get("/admin/migration/stage", headers=ADMIN).json()["history"]
    assert [h["to_stage"] for h in reversed(history[: len(WALK)])] == [s.value for s in WALK]
    assert all(h["changed_by"] == "walker" and not h["forced"] for h in history[: len(WALK)])


def test_guard_rails_refuse_then_force_is_recorded(stack: StagedStack, client: TestClient) -> None:
    assert put_stage(client, S.DUAL_WRITE, force=True).status_code == 200
    stack.wait_drained()
    # An event recorded but never handed to the queue stays pending (no relay runs here).
    (stuck,) = stack.container.outbox.record([ReplicationEvent.upsert(Tarea.crear("atascada"))])
    try:
        refused = put_stage(client, S.SHADOW)
        assert refused.status_code == 409
        assert refused.json()["error"] == "stage_change_refused"
        assert refused.json()["detail"] == ["1 replication events are still pending; wait for the replica"]
        two_steps = put_stage(client, S.MONGO_PRIMARY).json()["detail"]
        assert two_steps[0] == "moves 2 stages at once; move one stage at a time" and len(two_steps) == 2
        # Going back never waits for the replica.
        assert put_stage(client, S.SQL_ONLY).status_code == 200
        assert put_stage(client, S.DUAL_WRITE).status_code == 200
        forced = put_stage(client, S.SHADOW, force=True, changed_by="oncall")
        assert forced.status_code == 200 and forced.json()["forced"] is True
        latest = client.get("/admin/migration/stage", headers=ADMIN).json()["history"][0]
        assert latest["changed_by"] == "oncall" and latest["forced"] is True
        assert latest["reasons"] == ["1 replication events are still pending; wait for the replica"]
    finally:
        stack.container.outbox.mark_done([stuck.event_id])
    assert put_stage(client, S.DUAL_WRITE).status_code == 200
    dead = stack.container.outbox.record([ReplicationEvent.upsert(Tarea.crear("muerta"))])
    stack.container.outbox.record_failure([dead[0].event_id], RuntimeError("boom"), dead=True)
    try:
        detail = put_stage(client, S.SHADOW).json()["detail"]
        assert detail == ["1 replication events are dead-lettered; replay or resolve them first"]
    finally:
        stack.container.outbox_queries.delete_dead([dead[0].event_id])
    assert put_stage(client, S.SHADOW).status_code == 200


def test_admin_stage_api_needs_the_token_and_valid_input(client: TestClient) -> None:
    assert client.get("/admin/migration/stage").status_code == 401
    assert client.get("/admin/migration/stage", headers={"Authorization": "Bearer nope"}).status_code == 403
    bad = client.put("/admin/migration/stage", json={"stage": "mongo_first"}, headers=ADMIN)
    assert bad.status_code == 422 and "error" in bad.json()


def test_cli_stage_show_and_set(
    stack: StagedStack, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env_for(stack.values).items():
        monkeypatch.setenv(name, value)
    assert put_stage(client, S.DUAL_WRITE, force=True).status_code == 200
    stack.wait_drained()
    runner = CliRunner()
    shown = runner.invoke(cli_app, ["stage", "show"])
    assert shown.exit_code == 0, shown.output
    assert "stage: dual_write (set by an operator)" in shown.output
    refused = runner.invoke(cli_app, ["stage", "set", "mongo_primary"])
    assert refused.exit_code == 1
    assert "moves 2 stages at once" in refused.output
    moved = runner.invoke(cli_app, ["stage", "set", "shadow", "--by", "cli-test"])
    assert moved.exit_code == 0, moved.output
    assert "stage: dual_write -> shadow" in moved.output
    # The API process sees the CLI's change within its cache TTL, without a restart.
    deadline = time.monotonic() + 2
    while stack.container.migration.current_stage() is not S.SHADOW:
        assert time.monotonic() < deadline, "the API never saw the CLI's stage change"
        time.sleep(0.05)
    invalid = runner.invoke(cli_app, ["stage", "set", "everything"])
    assert invalid.exit_code != 0 and "Traceback" not in invalid.output


def test_read_your_write_with_min_version(stack: StagedStack) -> None:
    """The seed's configuration that reads the MongoDB replica first: a client that just
    wrote version 2 asks for it and is served by SQL, the authoritative store."""
    database = PostgresDatabase()
    values = {
        **stack.values,
        "orm": "dual",
        "dual_primary": "mongo",
        "database_url": database.url,
        "mongo_db": f"ryw_{uuid.uuid4().hex[:8]}",
        "replication_queue": f"dualwrite.unconsumed.{uuid.uuid4().hex[:8]}",  # no worker: we apply
    }
    container = bootstrap(Settings(**values))
    try:
        with TestClient(create_app_for(container)) as http:
            created = http.post("/tareas", json={"titulo": "v1"}).json()
            apply_pending(container)
            assert http.patch(f"/tareas/{created['id']}", json={"titulo": "v2"}).json()["version"] == 2

            plain = http.get(f"/tareas/{created['id']}")
            assert (plain.json()["version"], plain.headers["X-Read-Source"]) == (1, "mongo")
            assert float(plain.headers["X-Replication-Lag-Seconds"]) > 0
            for asked in (
                http.get(f"/tareas/{created['id']}", params={"min_version": 2}),
                http.get(f"/tareas/{created['id']}", headers={"X-Min-Version": "2"}),
            ):
                assert asked.json()["titulo"] == "v2"
                assert asked.headers["X-Read-Source"] == "sql, min_version"
            satisfied = http.get(f"/tareas/{created['id']}", params={"min_version": 1})
            assert satisfied.headers["X-Read-Source"] == "mongo"
            assert http.get("/tareas").headers["X-Read-Source"] == "mongo"
            assert "X-Read-Source" not in http.post("/tareas", json={"titulo": "otra"}).headers

            apply_pending(container)
            time.sleep(0.4)  # the lag figure is cached for the stage cache TTL
            caught_up = http.get(f"/tareas/{created['id']}", params={"min_version": 2})
            assert (caught_up.json()["version"], caught_up.headers["X-Read-Source"]) == (2, "mongo")
            assert float(caught_up.headers["X-Replication-Lag-Seconds"]) == 0

            bad = http.get(f"/tareas/{created['id']}", params={"min_version": "dos"})
            assert bad.status_code == 422 and bad.json()["error"] == "invalid_min_version"
    finally:
        container.mongo_repository.collection.database.client.drop_database(values["mongo_db"])
        container.close()
        database.drop()


def create_app_for(container: Container) -> FastAPI:
    return create_app(lambda: container)


def apply_pending(container: Container) -> None:
    """Apply every pending event exactly as the worker task does."""
    query = sa.select(outbox.c.id).where(outbox.c.status == EventStatus.PENDING.value)
    with container.engine.connect() as conn:
        ids = [int(i) for i in conn.execute(query).scalars()]
    container.aplicar_replicacion().execute(ids)
