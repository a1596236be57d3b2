"""Replication events: what the authoritative store hands to the secondary one."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from core.domain.models.migration_stage import Store
from core.domain.models.tarea import Tarea


class Operation(enum.StrEnum):
    """What a replication event does to the secondary store."""

    UPSERT = "upsert"
    DELETE = "delete"


class EventStatus(enum.StrEnum):
    """Where an outbox event is in its life."""

    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


@dataclass(frozen=True)
class ReplicationEvent:
    """One change to copy to the secondary store.

    ``version`` orders events of one Tarea: a replica applies an event only when it holds
    an older version, so duplicates and late arrivals are no-ops. A delete carries the
    version after the last update, so a late update can never resurrect the Tarea.
    """

    event_id: int
    operation: Operation
    tarea_id: UUID
    version: int
    tarea: Tarea | None
    created_at: datetime
    attempts: int = 0
    status: EventStatus = EventStatus.PENDING
    last_error: str | None = None
    # The store the event is applied to: MongoDB while SQL is authoritative, SQL once
    # MongoDB is (the ``mongo_primary`` migration stage).
    target: Store = Store.MONGO

    @classmethod
    def upsert(
        cls,
        tarea: Tarea,
        *,
        event_id: int = 0,
        created_at: datetime | None = None,
        target: Store = Store.MONGO,
    ) -> ReplicationEvent:
        return cls(
            event_id=event_id,
            operation=Operation.UPSERT,
            tarea_id=tarea.id,
            version=tarea.version,
            tarea=tarea,
            created_at=created_at or tarea.updated_at,
            target=target,
        )

    @classmethod
    def delete(
        cls,
        tarea_id: UUID,
        version: int,
        created_at: datetime,
        *,
        event_id: int = 0,
        target: Store = Store.MONGO,
    ) -> ReplicationEvent:
        return cls(
            event_id=event_id,
            operation=Operation.DELETE,
            tarea_id=tarea_id,
            version=version,
            tarea=None,
            created_at=created_at,
            target=target,
        )


@dataclass(frozen=True)
class ApplyResult:
    """What a replica did with a batch of events."""

    applied: int
    stale: int


@dataclass(frozen=True)
class EventAttempt:
    """One failed attempt to apply an event."""

    attempt: int
    error_type: str
    error: str
    at: datetime
