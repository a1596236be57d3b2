"""Reconciliation on real PostgreSQL and the Mongo-compatible server: drift injected
straight into MongoDB is found exactly, and repaired through the outbox."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import workers.tasks
from core.domain.models.reconciliation import ChunkProgress, DriftKind
from core.domain.models.tarea import EstadoTarea, Tarea
from infrastructure.container import Container
from infrastructure.mapping.tarea_mapping import tarea_to_document
from infrastructure.messaging.celery_app import create_celery_app
from infrastructure.mongo.repository.tarea_repository import tombstone
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.operations_schema import reconcile_runs
from infrastructure.sqlalchemy.schema import outbox
from tests.support.ops import count_rows, drop_mongo, ops_container, ops_settings
from workers.tasks import register_tasks

pytestmark = pytest.mark.integration


@pytest.fixture
def container(pg_engine, pg_database, mongo_server, tmp_path) -> Iterator[Container]:
    # No broker needed: a filesystem queue nobody reads; repairs are applied below by the
    # worker's own use case.
    values = ops_settings(pg_database.url, mongo_server.url, "filesystem://", data_dir=str(tmp_path / "d"))
    container = ops_container(values)
    yield container
    drop_mongo(container)
    container.close()


def replicate_pending(container: Container) -> int:
    """Apply every pending outbox event, exactly as a worker does."""
    with container.engine.connect() as conn:
        ids = list(conn.execute(sa.select(outbox.c.id).where(outbox.c.status == "pending")).scalars())
    outcome = container.aplicar_replicacion().execute(ids)
    return outcome.loaded


def seed(container: Container, count: int) -> list[Tarea]:
    tareas = [
        container.sql_repository.save_and_record(Tarea.crear(f"tarea {n}", "d"))[0] for n in range(count)
    ]
    replicate_pending(container)
    return tareas


def drift_set(report) -> set[tuple[str, DriftKind]]:
    return {(d.tarea_id, d.kind) for d in report.drift}


def test_in_sync_stores_report_no_drift_and_the_run_is_recorded(container):
    seed(container, 25)
    progress: list[ChunkProgress] = []

    report = container.reconciliar().execute(chunk_size=4, progress=progress.append)

    assert report.drift == [] and report.in_flight == []
    assert report.rows_sql == report.rows_mongo == 25
    assert report.chunks == 7  # ceil(25 / 4)
    assert report.chunks_differing == 0
    assert [(p.done, p.total) for p in progress] == [(n, 7) for n in range(1, 8)]
    assert count_rows(container, reconcile_runs) == 1
    last = container.reconcile_runs.last()
    assert last is not None and (last.missing, last.extra, last.stale) == (0, 0, 0)


def test_injected_drift_is_found_exactly_and_repaired_through_the_outbox(container):
    tareas = seed(container, 40)
    mongo = container.mongo_repository.collection
    deleted, altered, bumped, behind, buried = (str(t.id) for t in tareas[:5])
    # missing: the document vanished
    mongo.delete_one({"_id": deleted})
    # stale, same version: a field changed behind the version's back
    mongo.update_one({"_id": altered}, {"$set": {"titulo": "tampered"}})
    # stale, replica ahead: the version was raised by hand (content unchanged)
    mongo.update_one({"_id": bumped}, {"$inc": {"version": 5}})
    # stale, replica behind: SQL moved on without an event (a lost write)
    newer = tareas[3].actualizar(estado=EstadoTarea.COMPLETADA)
    container.sql_repository.save(newer)
    # missing: a tombstone at a newer version hides a live SQL row
    mongo.replace_one({"_id": buried}, tombstone(tareas[4].id, tareas[4].version + 3))
    # extra: live in MongoDB only; a tombstone of an unknown id is not drift
    intruder = Tarea.crear("intruder")
    mongo.insert_one(tarea_to_document(intruder))
    mongo.insert_one(tombstone(Tarea.crear("gone").id, 2))
    events_before = count_rows(container, outbox)

    dry = container.reconciliar().execute(chunk_size=7)

    assert drift_set(dry) == {
        (deleted, DriftKind.MISSING),
        (buried, DriftKind.MISSING),
        (altered, DriftKind.STALE),
        (bumped, DriftKind.STALE),
        (behind, DriftKind.STALE),
        (str(intruder.id), DriftKind.EXTRA),
    }
    versions = {d.tarea_id: (d.sql_version, d.mongo_version) for d in dry.drift}
    assert versions[bumped] == (1, 6)
    assert versions[behind] == (2, 1)
    assert versions[str(intruder.id)] == (None, 1)
    assert count_rows(container, outbox) == events_before  # a dry run writes nothing

    repaired = container.reconciliar().execute(chunk_size=7, repair=True)

    assert drift_set(repaired) == drift_set(dry)
    assert repaired.repair_events == 6 and repaired.repair_skipped == []
    assert replicate_pending(container) == 6
    after = container.reconciliar().execute(chunk_size=7)
    assert after.drift == [] and after.in_flight == []
    # Replica-ahead fixes bumped the SQL version past the replica's, content unchanged;
    # everything else (same-version drift included) kept its SQL row as it was.
    sql = {str(t.id): t for t in container.sql_repository.list(limit=100)}
    assert sql[altered] == tareas[1]
    assert sql[bumped].version == 7 and sql[bumped] == dataclasses.replace(tareas[2], version=7)
    assert sql[buried].version == tareas[4].version + 4
    assert sql[behind] == newer
    assert mongo.find_one({"_id": str(intruder.id)})["deleted"] is True


def test_rows_with_pending_events_are_in_flight_not_drift(container):
    seed(container, 5)
    waiting, _ = container.sql_repository.save_and_record(Tarea.crear("on its way"))

    report = container.reconciliar().execute(chunk_size=2)

    assert report.drift == []
    assert report.in_flight == [str(waiting.id)]


def test_drift_beyond_the_last_sql_id_and_with_empty_sql_is_found(container):
    mongo = container.mongo_repository.collection
    only_in_mongo = [Tarea.crear(f"m{n}") for n in range(3)]
    mongo.insert_many([tarea_to_document(t) for t in only_in_mongo])

    report = container.reconciliar().execute(chunk_size=1)

    assert drift_set(report) == {(str(t.id), DriftKind.EXTRA) for t in only_in_mongo}
    assert report.chunks == 1 and report.rows_sql == 0 and report.rows_mongo == 3


def test_reconcile_celery_task_runs_the_use_case_and_stores_the_run(container, monkeypatch):
    seed(container, 3)
    container.mongo_repository.collection.delete_many({})
    app = create_celery_app(container.settings)
    register_tasks(app, Settings(reconcile_interval_seconds=600))
    # The task resolves the process container, as in a worker; here, this test's one.
    monkeypatch.setattr(workers.tasks, "get_container", lambda: container)

    result = app.tasks["dualwrite.reconcile"].apply().get()

    assert result["drift"] == {"missing": 3, "extra": 0, "stale": 0}
    assert app.conf.beat_schedule["reconcile"]["schedule"] == 600
    last = container.reconcile_runs.last()
    assert last is not None and last.missing == 3
