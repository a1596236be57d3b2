"""Use case: replay dead-lettered replication events."""

from __future__ import annotations

from collections.abc import Sequence

from core.application.publicar_eventos import publish_in_batches
from core.domain.ports.replication import EventPublisher, Outbox


class ReplayEventsUseCase:
    """Move dead-lettered events back to pending and hand them to the queue.

    If the queue is down the events stay pending and the relay sends them later, so a
    replay is never lost either. The replica's version guard makes replaying an event
    that a newer one already superseded a no-op.
    """

    def __init__(self, outbox: Outbox, publisher: EventPublisher) -> None:
        self._outbox = outbox
        self._publisher = publisher

    def execute(self, event_ids: Sequence[int], batch_size: int = 500) -> list[int]:
        """Return the ids that were dead and are now queued again."""
        moved = self._outbox.requeue(event_ids)
        publish_in_batches(self._outbox, self._publisher, moved, batch_size, "Replay queued in the outbox")
        return moved
