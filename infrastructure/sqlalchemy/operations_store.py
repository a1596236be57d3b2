"""SQL stores of the operator tooling: backfill checkpoints and reconcile runs."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.domain.models.reconciliation import (
    BackfillCheckpoint,
    DriftKind,
    ReconcileReport,
    ReconcileSummary,
)
from core.domain.models.tarea import utc_now
from core.domain.ports.operations import ReconcileRunStore
from core.domain.ports.reconciliation import BackfillCheckpoints
from infrastructure.mapping.tarea_mapping import as_utc
from infrastructure.sqlalchemy.engine import translate_sql_errors
from infrastructure.sqlalchemy.operations_schema import backfill_checkpoints, reconcile_runs

DRIFT_SAMPLE_SIZE = 1000


class SqlBackfillCheckpoints(BackfillCheckpoints):
    """Checkpoints in ``backfill_checkpoints``, one row per named backfill."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def load(self, name: str) -> BackfillCheckpoint | None:
        query = sa.select(backfill_checkpoints).where(backfill_checkpoints.c.name == name)
        with translate_sql_errors(), self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return BackfillCheckpoint(
            name=row["name"],
            last_id=row["last_id"],
            copied=int(row["copied"]),
            finished=bool(row["finished"]),
        )

    def save(self, checkpoint: BackfillCheckpoint) -> None:
        values = {
            "last_id": checkpoint.last_id,
            "copied": checkpoint.copied,
            "finished": checkpoint.finished,
            "updated_at": utc_now(),
        }
        with translate_sql_errors(), self._engine.begin() as conn:
            updated = conn.execute(
                backfill_checkpoints.update()
                .where(backfill_checkpoints.c.name == checkpoint.name)
                .values(values)
            )
            if updated.rowcount == 0:
                conn.execute(backfill_checkpoints.insert().values(name=checkpoint.name, **values))

    def clear(self, name: str) -> None:
        with translate_sql_errors(), self._engine.begin() as conn:
            conn.execute(backfill_checkpoints.delete().where(backfill_checkpoints.c.name == name))


class SqlReconcileRuns(ReconcileRunStore):
    """Finished reconcile runs in ``reconcile_runs``; the metrics read the newest."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, report: ReconcileReport) -> None:
        sample = [
            {"tarea_id": d.tarea_id, "kind": d.kind.value, "sql": d.sql_version, "mongo": d.mongo_version}
            for d in report.drift[:DRIFT_SAMPLE_SIZE]
        ]
        with translate_sql_errors(), self._engine.begin() as conn:
            conn.execute(
                reconcile_runs.insert().values(
                    started_at=report.started_at,
                    finished_at=report.finished_at or utc_now(),
                    repair=report.repair,
                    chunks=report.chunks,
                    chunks_differing=report.chunks_differing,
                    rows_sql=report.rows_sql,
                    rows_mongo=report.rows_mongo,
                    missing=report.count(DriftKind.MISSING),
                    extra=report.count(DriftKind.EXTRA),
                    stale=report.count(DriftKind.STALE),
                    in_flight=len(report.in_flight),
                    repair_events=report.repair_events,
                    drift_sample=sample,
                )
            )

    def last(self) -> ReconcileSummary | None:
        query = sa.select(reconcile_runs).order_by(reconcile_runs.c.id.desc()).limit(1)
        with translate_sql_errors(), self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return ReconcileSummary(
            started_at=as_utc(row["started_at"]),
            finished_at=as_utc(row["finished_at"]),
            repair=bool(row["repair"]),
            missing=int(row["missing"]),
            extra=int(row["extra"]),
            stale=int(row["stale"]),
            in_flight=int(row["in_flight"]),
            repair_events=int(row["repair_events"]),
        )
