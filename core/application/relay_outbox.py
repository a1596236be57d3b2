"""Use case: (re)send pending outbox events to the replication queue."""

from __future__ import annotations

from core.application.publicar_eventos import publish_or_release
from core.domain.ports.replication import EventPublisher, Outbox


class RelayOutboxUseCase:
    """Claim events that were never handed to the queue, or that were handed over too
    long ago without being applied, and publish them in batches.

    Safe to run in several processes at once: claiming is exclusive per event, and the
    replica ignores duplicates anyway. A batch that cannot be published is released for
    the next round.
    """

    def __init__(self, outbox: Outbox, publisher: EventPublisher) -> None:
        self._outbox = outbox
        self._publisher = publisher

    def execute(self, batch_size: int, max_batches: int = 20) -> int:
        """Return how many events were published."""
        published = 0
        for _ in range(max_batches):
            ids = self._outbox.claim_for_dispatch(batch_size)
            if not ids:
                break
            if not publish_or_release(self._outbox, self._publisher, ids, "Relay could not publish"):
                break
            published += len(ids)
            if len(ids) < batch_size:
                break
        return published
