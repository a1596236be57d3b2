"""Ports operators use to look into and act on the replication path."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from datetime import datetime

from core.domain.models.operations import (
    EventQuery,
    OutboxEvent,
    OutboxEventDetail,
    OutboxStats,
    WorkerHealth,
)
from core.domain.models.reconciliation import ReconcileReport, ReconcileSummary


class OutboxQueries(ABC):
    """Read and housekeeping queries over the outbox (the write path is :class:`Outbox`)."""

    @abstractmethod
    def stats(self) -> OutboxStats:
        """Counts of undone events by state, oldest pending time, last applied time."""

    @abstractmethod
    def search(self, query: EventQuery, now: datetime, limit: int) -> list[OutboxEvent]:
        """Up to ``limit`` undone events matching ``query``, ascending by id after
        ``query.cursor`` (``limit`` may exceed ``query.limit``: callers peek one ahead)."""

    @abstractmethod
    def detail(self, event_id: int) -> OutboxEventDetail | None:
        """One event (any status) with its payload and attempts; ``None`` if absent."""

    @abstractmethod
    def delete_dead(self, event_ids: Sequence[int]) -> list[int]:
        """Delete those events that are dead-lettered; return the ids deleted."""

    @abstractmethod
    def tareas_with_pending_events(self, tarea_ids: Collection[str]) -> set[str]:
        """The ids among ``tarea_ids`` that still have pending (not yet applied) events."""


class WorkerProbe(ABC):
    """Asks the replication workers whether they are alive."""

    @abstractmethod
    def ping(self) -> WorkerHealth:
        """Answer within a short, bounded time; never raise."""


class ReconcileRunStore(ABC):
    """Durable record of reconcile runs (metrics read the last one)."""

    @abstractmethod
    def save(self, report: ReconcileReport) -> None:
        """Store a finished run."""

    @abstractmethod
    def last(self) -> ReconcileSummary | None:
        """The counts of the most recent finished run."""
