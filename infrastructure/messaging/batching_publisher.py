"""An EventPublisher that takes the publish off the request path and batches it.

``publish`` only queues the ids in memory and returns. A background thread hands
them to the wrapped publisher, coalescing every id that arrives within ``linger``
(up to ``max_batch``) into one replication task. Requests stop paying a broker round
trip each, and the worker gets batches it applies with one MongoDB ``bulk_write``
instead of one task per write.

Nothing acknowledged can be lost: the events are committed in the outbox before
``publish`` is called. If the broker refuses a batch, ``on_failure`` releases it so
the relay sends it on its next round; if the process dies with ids still queued
here, the relay re-sends them after ``relay_redispatch_after_seconds``.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence

from core.domain.ports.replication import EventPublisher
from infrastructure.observability.metrics import SECONDARY_WRITES

logger = logging.getLogger(__name__)

_STOP = -1


class BatchingEventPublisher(EventPublisher):
    """Queues ids and publishes them in batches from one background thread."""

    def __init__(
        self,
        inner: EventPublisher,
        on_failure: Callable[[list[int]], None],
        *,
        linger_seconds: float,
        max_batch: int = 500,
    ) -> None:
        self._inner = inner
        self._on_failure = on_failure
        self._linger = linger_seconds
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def publish(self, event_ids: Sequence[int]) -> None:
        self._ensure_thread()
        for event_id in event_ids:
            self._queue.put(int(event_id))

    def close(self, timeout: float = 5.0) -> None:
        """Publish what is queued, then stop the thread."""
        thread = self._thread
        if thread is None or not thread.is_alive() or self._pid != os.getpid():
            return
        self._queue.put(_STOP)
        thread.join(timeout)

    def _ensure_thread(self) -> None:
        # After a fork the child has the object but not the thread: start its own.
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="EventPublisher", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first == _STOP:
                return
            batch, stopping = self._collect(first)
            self._send(batch)

    def _collect(self, first: int) -> tuple[list[int], bool]:
        """``first`` plus whatever arrives within the linger, up to ``max_batch``."""
        batch = [first]
        deadline = time.monotonic() + self._linger
        while len(batch) < self._max_batch:
            remaining = deadline - time.monotonic()
            try:
                event_id = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if event_id == _STOP:
                return batch, True
            batch.append(event_id)
        return batch, False

    def _send(self, batch: list[int]) -> None:
        try:
            self._inner.publish(batch)
        except Exception as exc:
            SECONDARY_WRITES.labels("queued", "publish_failed").inc(len(batch))
            logger.warning(f"⚠️ Cola no disponible, el relay reenviará: {exc}", extra={"event_ids": batch})
            try:
                self._on_failure(batch)
            except Exception as release_exc:  # still safe: the relay resends after its timeout
                logger.warning(
                    f"⚠️ Could not release events {batch}: {release_exc}", extra={"event_ids": batch}
                )
