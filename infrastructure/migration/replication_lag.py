"""The replication lag clients see in ``X-Replication-Lag-Seconds``, cached briefly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from core.domain.models.tarea import utc_now
from core.domain.ports.operations import OutboxQueries


class CachedLag:
    """Age of the oldest pending outbox event (0 when none), read at most once per
    ``ttl_seconds``; ``None`` when it cannot be read.

    Every read response carries it, so it must not cost a query per request.
    """

    def __init__(
        self, outbox: OutboxQueries, ttl_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._outbox = outbox
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: float | None = None
        self._expires_at = float("-inf")

    def seconds(self) -> float | None:
        with self._lock:
            if self._clock() >= self._expires_at:
                self._value = self._read()
                self._expires_at = self._clock() + self._ttl
            return self._value

    def _read(self) -> float | None:
        try:
            oldest = self._outbox.stats().oldest_pending_at
        except Exception:
            return None  # an unknown lag is reported as unknown, never as 0
        return 0.0 if oldest is None else max(0.0, (utc_now() - oldest).total_seconds())
