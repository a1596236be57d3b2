"""Ports of the replication path: outbox, publisher and replica."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from uuid import UUID

from core.domain.models.replication import ApplyResult, ReplicationEvent
from core.domain.models.tarea import Tarea


class OutboxWriter(ABC):
    """The authoritative store, able to record a replication event in the same
    transaction as the change it describes (transactional outbox)."""

    @abstractmethod
    def save_and_record(self, tarea: Tarea) -> tuple[Tarea, ReplicationEvent]:
        """Save ``tarea`` and record its upsert event atomically."""

    @abstractmethod
    def eliminar_and_record(self, tarea_id: UUID) -> ReplicationEvent | None:
        """Delete the Tarea and record its delete event atomically; ``None`` if absent."""


class Outbox(ABC):
    """The durable log of replication events and their outcome (retries, dead letters)."""

    @abstractmethod
    def record(self, events: Sequence[ReplicationEvent]) -> list[ReplicationEvent]:
        """Record events outside a write transaction (e.g. a failed in-process write)."""

    @abstractmethod
    def load(self, event_ids: Sequence[int]) -> list[ReplicationEvent]:
        """Return the events with those ids that are still pending."""

    @abstractmethod
    def mark_done(self, event_ids: Sequence[int]) -> None:
        """Mark events as applied to the replica."""

    @abstractmethod
    def record_failure(self, event_ids: Sequence[int], error: BaseException, *, dead: bool) -> None:
        """Count one failed attempt; with ``dead`` move the events to the dead letters."""

    @abstractmethod
    def release(self, event_ids: Sequence[int]) -> None:
        """Mark events as not handed to the queue, so the relay sends them soon."""

    @abstractmethod
    def claim_for_dispatch(self, limit: int) -> list[int]:
        """Claim up to ``limit`` pending events that need (re)sending; safe with many relays."""

    @abstractmethod
    def requeue(self, event_ids: Sequence[int]) -> list[int]:
        """Move dead-lettered events back to pending; return the ids that moved."""

    @abstractmethod
    def prune_done(self, older_than_seconds: float) -> int:
        """Delete applied events older than the retention; return how many."""


class EventPublisher(ABC):
    """Hands event ids to the replication workers (a message queue)."""

    @abstractmethod
    def publish(self, event_ids: Sequence[int]) -> None:
        """Send the ids; raise on failure. Must return or fail within a bounded time."""


class ReplicaWriter(ABC):
    """The secondary store, applying events idempotently and in version order."""

    @abstractmethod
    def apply(self, events: Sequence[ReplicationEvent]) -> ApplyResult:
        """Apply every event whose version is the same as or newer than what the replica
        holds (an event carries the authoritative store's committed state, so an equal
        version rewrites it); older events are counted as stale and change nothing."""
