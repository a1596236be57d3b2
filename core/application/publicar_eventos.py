"""Handing recorded events to the queue, shared by every use case that publishes."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.domain.ports.replication import EventPublisher, Outbox

logger = logging.getLogger(__name__)


def publish_or_release(outbox: Outbox, publisher: EventPublisher, event_ids: Sequence[int], why: str) -> bool:
    """Publish ``event_ids``; if the queue refuses them, release them to the relay.

    Return whether they were published. Either way nothing is lost: the events are in
    the outbox, and a released event is sent on the relay's next round.
    """
    try:
        publisher.publish(event_ids)
        return True
    except Exception as exc:
        outbox.release(event_ids)
        logger.warning(
            f"⚠️ {why}; the relay will send it", extra={"count": len(event_ids), "error": repr(exc)}
        )
        return False


def publish_in_batches(
    outbox: Outbox, publisher: EventPublisher, event_ids: Sequence[int], batch_size: int, why: str
) -> int:
    """Publish in batches of ``batch_size``; return how many ids were published."""
    published = 0
    for start in range(0, len(event_ids), batch_size):
        batch = event_ids[start : start + batch_size]
        if publish_or_release(outbox, publisher, batch, why):
            published += len(batch)
    return published
