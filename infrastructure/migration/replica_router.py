"""Routes each replication event to the replica of its target store."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.domain.models.migration_stage import Store
from core.domain.models.replication import ApplyResult, ReplicationEvent
from core.domain.ports.replication import ReplicaWriter


class ReplicaRouter(ReplicaWriter):
    """One queue and one worker task serve both directions of replication: events for
    MongoDB go to the MongoDB replica, events for SQL to the SQL replica. Replicas are
    resolved lazily, so a worker that only ever sees MongoDB events never needs more."""

    def __init__(self, replicas: Callable[[Store], ReplicaWriter]) -> None:
        self._replicas = replicas

    def apply(self, events: Sequence[ReplicationEvent]) -> ApplyResult:
        applied = stale = 0
        for target in Store:
            batch = [event for event in events if event.target is target]
            if batch:
                result = self._replicas(target).apply(batch)
                applied += result.applied
                stale += result.stale
        return ApplyResult(applied=applied, stale=stale)
