"""The relay process loop: publish pending outbox events and prune old ones."""

from __future__ import annotations

import logging
import threading
import time

from core.application.relay_outbox import RelayOutboxUseCase
from infrastructure.container import Container
from infrastructure.sqlalchemy.outbox.outbox_wakeup import OutboxWakeup, outbox_wakeup_for

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 60.0


def run_relay(container: Container, stop: threading.Event, *, once: bool = False) -> int:
    """Run until ``stop`` is set (or one round with ``once``); return events published.

    Between rounds it waits for the database to announce new events (PostgreSQL), or
    ``relay_interval_seconds`` at most: the interval also re-sends events whose
    delivery was lost, so it stays the bound on how long anything waits. Once woken it
    lingers ``publish_linger_ms`` so that the writes of that window leave as one task.
    """
    wakeup = outbox_wakeup_for(container.engine)
    try:
        return _loop(container, container.relay_outbox(), wakeup, stop, once=once)
    finally:
        wakeup.close()


def _loop(
    container: Container,
    relay: RelayOutboxUseCase,
    wakeup: OutboxWakeup,
    stop: threading.Event,
    *,
    once: bool,
) -> int:
    settings = container.settings
    published_total = 0
    last_prune: float | None = None  # prune on the first round, whatever the clock reads
    while not stop.is_set():
        try:
            published = relay.execute(settings.relay_batch_size)
            published_total += published
            if published:
                logger.info("Relay published pending events", extra={"count": published})
            if last_prune is None or time.monotonic() - last_prune > PRUNE_EVERY_SECONDS:
                pruned = container.outbox.prune_done(settings.outbox_retention_seconds)
                last_prune = time.monotonic()
                if pruned:
                    logger.info("Pruned applied outbox events", extra={"count": pruned})
        except Exception as exc:  # a store is down: keep looping, the events are safe in SQL
            logger.warning(f"⚠️ Relay round failed: {exc}")
        if once:
            break
        if wakeup.wait(settings.relay_interval_seconds, stop) and settings.publish_linger_ms > 0:
            stop.wait(settings.publish_linger_ms / 1000.0)
    return published_total
