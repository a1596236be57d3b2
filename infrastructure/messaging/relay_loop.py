"""The relay process loop: re-send pending outbox events and prune old ones."""

from __future__ import annotations

import logging
import threading
import time

from infrastructure.container import Container

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 60.0


def run_relay(container: Container, stop: threading.Event, *, once: bool = False) -> int:
    """Run until ``stop`` is set (or one round with ``once``); return events published."""
    settings = container.settings
    relay = container.relay_outbox()
    published_total = 0
    last_prune: float | None = None  # prune on the first round, whatever the clock reads
    while not stop.is_set():
        try:
            published = relay.execute(settings.relay_batch_size)
            published_total += published
            if published:
                logger.info("Relay re-sent pending events", extra={"count": published})
            if last_prune is None or time.monotonic() - last_prune > PRUNE_EVERY_SECONDS:
                pruned = container.outbox.prune_done(settings.outbox_retention_seconds)
                last_prune = time.monotonic()
                if pruned:
                    logger.info("Pruned applied outbox events", extra={"count": pruned})
        except Exception as exc:  # a store is down: keep looping, the events are safe in SQL
            logger.warning(f"⚠️ Relay round failed: {exc}")
        if once:
            break
        stop.wait(settings.relay_interval_seconds)
    return published_total
