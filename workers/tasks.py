"""Celery tasks: inbound adapters. Ids in, call a use case, let Celery retry."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from celery import Celery, Task

from infrastructure.container import get_container
from infrastructure.messaging.celery_app import RECONCILE_TASK, RELAY_TASK, REPLICATE_TASK
from infrastructure.observability.metrics import REPLICATION_BATCH_SIZE
from infrastructure.reporting.operations_json import reconcile_json
from infrastructure.settings import Settings

logger = logging.getLogger(__name__)


def register_tasks(app: Celery, settings: Settings) -> None:
    """Register the replication and relay tasks with retry options from ``settings``.

    ``shared=False`` everywhere: Celery's default adds a task to every app the process
    builds later, so a second app (other settings) would run the first one's task.
    """

    @app.task(
        name=REPLICATE_TASK,
        shared=False,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        autoretry_for=(Exception,),
        max_retries=settings.retry_max,
        retry_backoff=settings.retry_backoff_seconds,
        retry_backoff_max=settings.retry_backoff_max_seconds,
        retry_jitter=True,
    )
    def replicate(self: Task[Any, Any], event_ids: list[int]) -> dict[str, Any]:
        """Apply outbox events to MongoDB; on the last retry they go to the dead letters."""
        ids = [int(i) for i in event_ids]
        REPLICATION_BATCH_SIZE.observe(len(ids))
        final = self.request.retries >= (self.max_retries or 0)
        outcome = get_container().aplicar_replicacion().execute(ids, final_attempt=final)
        logger.info(
            "✓ Replicación aplicada",
            extra={
                "event_ids": ids[:20],
                "applied": outcome.applied,
                "stale": outcome.stale,
                "dead": outcome.dead,
            },
        )
        return asdict(outcome)

    @app.task(name=RELAY_TASK, shared=False, ignore_result=True)
    def relay() -> int:
        """Periodic (celery beat) alternative to the ``dualwrite relay`` process."""
        container = get_container()
        return container.relay_outbox().execute(container.settings.relay_batch_size)

    @app.task(name=RECONCILE_TASK, shared=False, ignore_result=True)
    def reconcile(repair: bool | None = None) -> dict[str, Any]:
        """Compare SQL and MongoDB (``dualwrite reconcile``); the run is stored for /metrics."""
        container = get_container()
        report = container.reconciliar().execute(
            chunk_size=container.settings.reconcile_chunk_size,
            repair=container.settings.reconcile_repair if repair is None else repair,
        )
        summary = reconcile_json(report)
        # Counts only: a task result is no place for id lists.
        summary.pop("documents")
        summary["in_flight"] = len(report.in_flight)
        summary["repair_skipped"] = len(report.repair_skipped)
        return summary

    if settings.reconcile_interval_seconds > 0:
        app.conf.beat_schedule = {
            **(app.conf.beat_schedule or {}),
            "reconcile": {"task": RECONCILE_TASK, "schedule": settings.reconcile_interval_seconds},
        }
