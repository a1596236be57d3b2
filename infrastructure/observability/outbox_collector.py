"""Scrape-time gauges read from the outbox and the last reconcile run.

Computed on each scrape (no background thread, no per-process drift): every API process
reports the same numbers because they come from the shared SQL database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.domain.models.reconciliation import DriftKind
from core.domain.models.tarea import utc_now
from core.domain.ports.operations import OutboxQueries, ReconcileRunStore

logger = logging.getLogger(__name__)

LAG = "dualwrite_replication_lag_seconds"
OUTBOX_EVENTS = "dualwrite_outbox_events"
DEAD_LETTERS = "dualwrite_dead_letters"
LAST_APPLY = "dualwrite_replication_last_apply_timestamp_seconds"
DRIFT = "dualwrite_reconcile_drift_documents"
LAST_RECONCILE = "dualwrite_reconcile_last_run_timestamp_seconds"
UP = "dualwrite_outbox_up"
METRIC_NAMES = (LAG, OUTBOX_EVENTS, DEAD_LETTERS, LAST_APPLY, DRIFT, LAST_RECONCILE, UP)


class OutboxCollector(Collector):
    """Replication lag, outbox backlog by state, dead letters and reconcile drift."""

    def __init__(
        self,
        queries: OutboxQueries,
        runs: ReconcileRunStore,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._queries = queries
        self._runs = runs
        self._clock = clock

    def describe(self) -> list[Metric]:
        # Names only, so registering never queries the database.
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        lag, events, dead, last_apply, drift, last_run, up = self._families()
        try:
            stats = self._queries.stats()
            summary = self._runs.last()
        except Exception as exc:  # a scrape must still answer when SQL is down
            logger.warning("Outbox metrics unavailable", extra={"error": repr(exc)})
            up.add_metric([], 0)
            yield up
            return
        now = self._clock()
        oldest = stats.oldest_pending_at
        lag.add_metric([], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        for state, value in (
            ("waiting", stats.waiting),
            ("in_flight", stats.in_flight),
            ("retrying", stats.retrying),
            ("dead", stats.dead),
        ):
            events.add_metric([state], value)
        dead.add_metric([], stats.dead)
        up.add_metric([], 1)
        yield from (lag, events, dead, up)
        if stats.last_applied_at is not None:
            last_apply.add_metric([], stats.last_applied_at.timestamp())
            yield last_apply
        if summary is not None:
            for kind in DriftKind:
                drift.add_metric([kind.value], summary.drift(kind))
            last_run.add_metric([], summary.finished_at.timestamp())
            yield from (drift, last_run)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(LAG, "Age of the oldest pending outbox event (0 when none is pending)."),
            GaugeMetricFamily(
                OUTBOX_EVENTS,
                "Undone outbox events by state: waiting, in_flight, retrying, dead (disjoint).",
                labels=["status"],
            ),
            GaugeMetricFamily(DEAD_LETTERS, "Outbox events moved to the dead letters."),
            GaugeMetricFamily(LAST_APPLY, "When an event was last applied to MongoDB (Unix time)."),
            GaugeMetricFamily(
                DRIFT, "Documents that differed in the last reconcile run, by kind.", labels=["kind"]
            ),
            GaugeMetricFamily(LAST_RECONCILE, "When the last reconcile run finished (Unix time)."),
            GaugeMetricFamily(UP, "1 if the outbox could be read at this scrape, else 0."),
        )
