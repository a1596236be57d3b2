"""Use case: replay dead-lettered replication events."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.domain.ports.replication import EventPublisher, Outbox

logger = logging.getLogger(__name__)


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
        for start in range(0, len(moved), batch_size):
            batch = moved[start : start + batch_size]
            try:
                self._publisher.publish(batch)
            except Exception as exc:
                self._outbox.release(batch)
                logger.warning(
                    "⚠️ Replay queued in the outbox; the relay will send it",
                    extra={"count": len(batch), "error": repr(exc)},
                )
        return moved
