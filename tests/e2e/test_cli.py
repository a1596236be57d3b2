"""The operator CLI (status, dlq, reconcile, backfill) on real PostgreSQL and the
Mongo-compatible server, through Typer's runner and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.domain.errors import StoreUnavailableError
from core.domain.models.operations import EventQuery, EventState
from core.domain.models.tarea import Tarea
from infrastructure.container import Container
from infrastructure.mapping.tarea_mapping import tarea_to_document
from infrastructure.mongo.embedded_server import ensure_embedded_server, stop_embedded_server
from infrastructure.settings import Settings
from tests.support.ops import drop_mongo, ops_container, ops_settings, record_dead, settings_env
from tests.support.services import REPO_ROOT

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture
def values(pg_engine, pg_database, mongo_server, tmp_path) -> dict[str, object]:
    return ops_settings(pg_database.url, mongo_server.url, "filesystem://", data_dir=str(tmp_path / "d"))


@pytest.fixture
def container(values) -> Iterator[Container]:
    container = ops_container(values)
    yield container
    drop_mongo(container)
    container.close()


@pytest.fixture
def env(values, monkeypatch) -> dict[str, str]:
    environment = settings_env(values)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_status_json_shows_counts_backlog_and_dead_letters(container, env):
    container.sql_repository.save_and_record(Tarea.crear("pendiente"))
    record_dead(container, StoreUnavailableError("mongo", "down"), count=2)
    container.mongo_repository.save(Tarea.crear("replicada"))

    result = invoke("status", "--json")

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["stores"] == {"sql": {"tareas": 3}, "mongo": {"tareas": 1}}
    assert (body["outbox"]["pending"], body["outbox"]["dead"]) == (1, 2)
    table = invoke("status")
    assert table.exit_code == 0
    for label in ("Tareas in SQL", "Tareas in MongoDB", "Dead letters", "Lag"):
        assert label in table.stdout


def test_dlq_list_show_replay_and_purge(container, env):
    dead = record_dead(container, StoreUnavailableError("mongo", "down"), count=3)
    other = record_dead(container, ValueError("bad"), count=1)

    listed = json.loads(invoke("dlq", "list", "--json", "--limit", "2").stdout)
    assert [e["id"] for e in listed["items"]] == dead[:2] and listed["next_cursor"] == dead[1]
    filtered = invoke("dlq", "list", "--error-type", "ValueError")
    assert filtered.exit_code == 0 and str(other[0]) in filtered.stdout
    shown = json.loads(invoke("dlq", "show", str(dead[0]), "--json").stdout)
    assert shown["attempt_log"][0]["error_type"] == "StoreUnavailableError"

    replayed = invoke("dlq", "replay", "--error-type", "StoreUnavailableError", "--json")
    assert json.loads(replayed.stdout) == {"replayed": 3, "event_ids": dead}
    not_dead = invoke("dlq", "replay", str(dead[0]))
    assert not_dead.exit_code == 1 and "only dead-lettered" in not_dead.stderr

    unconfirmed = invoke("dlq", "purge", "--all")
    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.stderr
    purged = invoke("dlq", "purge", "--all", "--yes", "--json")
    assert json.loads(purged.stdout) == {"purged": 1, "event_ids": other}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dlq", "list", "--status", '{"$ne": 1}'], "status: must be one of"),
        (["dlq", "list", "--error-type", "$where"], "error_type"),
        (["dlq", "list", "--limit", "0"], "limit"),
        (["dlq", "list", "--older-than", "-3"], "older_than_seconds"),
        (["dlq", "replay"], "give event ids, a filter"),
        (["dlq", "replay", "1", "--all"], "not both"),
        (["dlq", "show", "999999"], "not found"),
        (["reconcile", "--chunk-size", "0"], "chunk_size"),
        (["backfill", "--batch-size", "20000"], "batch_size"),
    ],
)
def test_bad_arguments_exit_non_zero_with_a_message(container, env, args, message):
    result = invoke(*args)

    assert result.exit_code in (1, 2)
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_typer_usage_errors_exit_2(env):
    for args in (["dlq", "show", "abc"], ["reconcile", "--chunk-size", "many"], ["dlq", "nope"]):
        result = invoke(*args)
        assert result.exit_code == 2, args


def test_reconcile_exits_1_on_drift_and_repair_queues_fixes(container, env):
    container.sql_repository.save(Tarea.crear("only in sql"))
    container.mongo_repository.collection.insert_one(tarea_to_document(Tarea.crear("only in mongo")))

    dry = invoke("reconcile", "--json", "--chunk-size", "1")
    assert dry.exit_code == 1
    assert json.loads(dry.stdout)["drift"] == {"missing": 1, "extra": 1, "stale": 0}
    repaired = invoke("reconcile", "--repair")
    assert repaired.exit_code == 1
    assert "repair: 2 event(s) queued" in repaired.stdout
    container.aplicar_replicacion().execute(
        [e.event_id for e in container.listar_eventos().execute(_pending()).items]
    )
    clean = invoke("reconcile")
    assert clean.exit_code == 0, clean.output
    assert "drift: missing 0, extra 0, stale 0" in clean.stdout


def test_backfill_copies_and_resumes(container, env):
    for n in range(30):
        container.sql_repository.save(Tarea.crear(f"legacy {n}"))

    first = invoke("backfill", "--batch-size", "7", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["total_copied"] == 30
    assert container.mongo_repository.count() == 30
    again = invoke("backfill")
    assert again.exit_code == 0 and "copied 0 row(s)" in again.stdout
    restarted = json.loads(invoke("backfill", "--restart", "--json").stdout)
    assert (restarted["copied"], restarted["resumed_from"], restarted["total_copied"]) == (30, None, 30)


def test_unreachable_store_exits_3_without_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")
    result = invoke("status")

    assert result.exit_code == 3
    assert "sql is unreachable" in result.stderr
    assert "Traceback" not in result.output


def test_status_in_a_real_process_on_the_embedded_default(tmp_path):
    """A new user's view: no configuration, SQLite and the embedded server in the data
    directory (as `dualwrite run` leaves them)."""
    data_dir = tmp_path / "data"
    ensure_embedded_server(Settings(data_dir=data_dir).mongo_data_dir())
    environment = {
        k: v for k, v in os.environ.items() if k not in ("ORM", "DATABASE_URL", "MONGO_URL", "BROKER_URL")
    }
    environment["DUALWRITE_DATA_DIR"] = str(data_dir)
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "cli.main", "status", "--json"],
            cwd=REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        bad = subprocess.run(
            [sys.executable, "-m", "cli.main", "dlq", "list", "--status", "$ne"],
            cwd=REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stop_embedded_server(Settings(data_dir=data_dir).mongo_data_dir())

    assert completed.returncode == 0, completed.stderr
    body = json.loads(completed.stdout)
    assert body["stores"] == {"sql": {"tareas": 0}, "mongo": {"tareas": 0}}
    assert body["outbox"]["pending"] == 0 and body["lag_seconds"] == 0
    assert bad.returncode == 2
    assert "status: must be one of" in bad.stderr and "Traceback" not in bad.stderr
    assert Path(data_dir / "dualwrite.db").exists()


def _pending() -> EventQuery:
    return EventQuery(state=EventState.PENDING, limit=500)
