"""EventPublisher adapter: sends replication tasks through Celery."""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery

from core.domain.ports.replication import EventPublisher
from infrastructure.messaging.celery_app import REPLICATE_TASK


class CeleryEventPublisher(EventPublisher):
    """Publishes one ``dualwrite.replicate`` task per call, carrying only event ids.

    ``retry=False`` plus the broker's socket timeouts bound the call: with the broker
    down it fails within ``publish_timeout_seconds`` and the outbox keeps the events.
    """

    def __init__(self, app: Celery, queue: str) -> None:
        self._app = app
        self._queue = queue

    def publish(self, event_ids: Sequence[int]) -> None:
        self._app.send_task(REPLICATE_TASK, args=[list(event_ids)], queue=self._queue, retry=False)
