"""BatchingEventPublisher: ids published close together leave as one batch; a refused
batch is released for the relay; close() publishes what is still queued."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from core.domain.ports.replication import EventPublisher
from infrastructure.messaging.batching_publisher import BatchingEventPublisher
from tests.support.services import wait_for


class RecordingPublisher(EventPublisher):
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail
        self.calls = threading.Event()

    def publish(self, event_ids: Sequence[int]) -> None:
        self.calls.set()
        if self.fail:
            raise ConnectionError("broker down")
        self.batches.append(list(event_ids))


def test_ids_within_the_linger_leave_as_one_task() -> None:
    inner, released = RecordingPublisher(), list[int]()
    publisher = BatchingEventPublisher(inner, released.extend, linger_seconds=0.2)
    started = time.monotonic()
    for event_id in range(1, 6):
        publisher.publish([event_id])
    assert time.monotonic() - started < 0.1  # publish never waits for the broker
    wait_for(lambda: inner.batches, 5, message="a batch")
    publisher.close()
    assert inner.batches == [[1, 2, 3, 4, 5]]
    assert released == []


def test_batches_never_exceed_max_batch() -> None:
    inner = RecordingPublisher()
    publisher = BatchingEventPublisher(inner, lambda ids: None, linger_seconds=0.5, max_batch=3)
    publisher.publish(list(range(1, 8)))
    wait_for(lambda: sum(len(b) for b in inner.batches) == 7, 5, message="all ids")
    publisher.close()
    assert [len(b) for b in inner.batches] == [3, 3, 1]
    assert [i for b in inner.batches for i in b] == list(range(1, 8))


def test_a_refused_batch_is_released_for_the_relay() -> None:
    inner, released = RecordingPublisher(fail=True), list[int]()
    publisher = BatchingEventPublisher(inner, released.extend, linger_seconds=0.01)
    publisher.publish([7, 8])
    wait_for(lambda: released == [7, 8], 5, message="release")
    publisher.close()
    assert inner.batches == []


def test_close_publishes_what_is_still_queued() -> None:
    inner = RecordingPublisher()
    publisher = BatchingEventPublisher(inner, lambda ids: None, linger_seconds=30)
    publisher.publish([1, 2])
    publisher.close(timeout=5)
    assert inner.batches == [[1, 2]]
