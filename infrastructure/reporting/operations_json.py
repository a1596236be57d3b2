"""JSON-ready views of the operator models, shared by the admin API and the CLI's ``--json``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.domain.models.operations import (
    EventPage,
    OutboxEvent,
    OutboxEventDetail,
    ReplicationStatus,
)
from core.domain.models.reconciliation import BackfillResult, DriftKind, ReconcileReport

JsonDict = dict[str, Any]


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def status_json(status: ReplicationStatus) -> JsonDict:
    stats = status.outbox
    return {
        "at": _time(status.at),
        "lag_seconds": round(status.lag_seconds, 3),
        "outbox": {
            "pending": stats.pending,
            "waiting": stats.waiting,
            "in_flight": stats.in_flight,
            "retrying": stats.retrying,
            "dead": stats.dead,
            "oldest_pending_at": _time(stats.oldest_pending_at),
        },
        "last_applied_at": _time(stats.last_applied_at),
        "workers": {
            "reachable": status.workers.reachable,
            "count": status.workers.workers,
            "detail": status.workers.detail,
        },
        "stores": {
            count.store: {"tareas": count.tareas, **({"error": count.error} if count.error else {})}
            for count in status.stores
        },
    }


def event_json(event: OutboxEvent) -> JsonDict:
    return {
        "id": event.event_id,
        "operation": event.operation.value,
        "tarea_id": str(event.tarea_id),
        "version": event.version,
        "status": event.state,
        "attempts": event.attempts,
        "last_error_type": event.last_error_type,
        "last_error": event.last_error,
        "created_at": _time(event.created_at),
        "updated_at": _time(event.updated_at),
        "dispatched_at": _time(event.dispatched_at),
        "applied_at": _time(event.applied_at),
    }


def event_page_json(page: EventPage) -> JsonDict:
    return {"items": [event_json(e) for e in page.items], "next_cursor": page.next_cursor}


def event_detail_json(detail: OutboxEventDetail) -> JsonDict:
    return {
        **event_json(detail.event),
        "payload": detail.payload,
        "attempt_log": [
            {"attempt": a.attempt, "error_type": a.error_type, "error": a.error, "at": _time(a.at)}
            for a in detail.attempts
        ],
    }


def reconcile_json(report: ReconcileReport) -> JsonDict:
    return {
        "started_at": _time(report.started_at),
        "finished_at": _time(report.finished_at),
        "repair": report.repair,
        "chunks": report.chunks,
        "chunks_differing": report.chunks_differing,
        "rows": {"sql": report.rows_sql, "mongo": report.rows_mongo},
        "drift": {kind.value: report.count(kind) for kind in DriftKind},
        "documents": [
            {
                "tarea_id": d.tarea_id,
                "kind": d.kind.value,
                "sql_version": d.sql_version,
                "mongo_version": d.mongo_version,
            }
            for d in report.drift
        ],
        "in_flight": report.in_flight,
        "repair_events": report.repair_events,
        "repair_skipped": report.repair_skipped,
    }


def backfill_json(result: BackfillResult) -> JsonDict:
    return {
        "copied": result.copied,
        "applied": result.applied,
        "skipped_as_newer": result.skipped,
        "batches": result.batches,
        "resumed_from": result.resumed_from,
        "total_copied": result.total_copied,
    }
