"""Use case: apply replication events to the secondary store (run by workers)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from core.domain.models.replication import ApplyResult
from core.domain.ports.replication import Outbox, ReplicaWriter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplicationOutcome:
    """What one attempt did: events applied, skipped as stale, or moved to dead letters."""

    loaded: int
    applied: int
    stale: int
    dead: int = 0


class AplicarReplicacionUseCase:
    """Load pending events from the outbox, apply them to the replica, record the outcome.

    Idempotent: events already done are not loaded again, and the replica ignores
    versions it already has. On failure the attempt is recorded and the error re-raised
    so the caller (a Celery task) retries; on the ``final_attempt`` the events move to
    the dead letters instead and nothing is raised.
    """

    def __init__(self, outbox: Outbox, replica: ReplicaWriter) -> None:
        self._outbox = outbox
        self._replica = replica

    def execute(self, event_ids: Sequence[int], *, final_attempt: bool = False) -> ReplicationOutcome:
        events = self._outbox.load(event_ids)
        if not events:
            return ReplicationOutcome(loaded=0, applied=0, stale=0)
        ids = [e.event_id for e in events]
        try:
            result: ApplyResult = self._replica.apply(events)
        except Exception as exc:
            self._outbox.record_failure(ids, exc, dead=final_attempt)
            if final_attempt:
                logger.error(
                    "❌ Replication moved to dead letters",
                    extra={"event_ids": ids, "error": repr(exc)},
                )
                return ReplicationOutcome(loaded=len(events), applied=0, stale=0, dead=len(events))
            raise
        self._outbox.mark_done(ids)
        return ReplicationOutcome(loaded=len(events), applied=result.applied, stale=result.stale)
