"""Replication use cases (apply, relay, replay) against in-memory outbox, replica and queue."""

from __future__ import annotations

import logging

import pytest

from core.application.aplicar_replicacion import AplicarReplicacionUseCase
from core.application.reenviar_eventos import ReplayEventsUseCase
from core.application.relay_outbox import RelayOutboxUseCase
from core.domain.errors import StoreUnavailableError
from core.domain.models.replication import EventStatus, ReplicationEvent
from core.domain.models.tarea import Tarea, utc_now
from tests.support.fakes import InMemoryOutbox, InMemoryReplica, RecordingPublisher, upsert_event


@pytest.fixture
def outbox() -> InMemoryOutbox:
    return InMemoryOutbox()


@pytest.fixture
def replica() -> InMemoryReplica:
    return InMemoryReplica()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


# -- AplicarReplicacionUseCase ------------------------------------------------------------
def test_apply_success_marks_events_done(outbox: InMemoryOutbox, replica: InMemoryReplica) -> None:
    events = [outbox.add(upsert_event(f"t{i}")) for i in range(3)]
    ids = [e.event_id for e in events]

    outcome = AplicarReplicacionUseCase(outbox, replica).execute(ids)

    assert (outcome.loaded, outcome.applied, outcome.stale, outcome.dead) == (3, 3, 0, 0)
    assert all(outbox.status(i) is EventStatus.DONE for i in ids)
    assert {t.id for t in replica.tareas.values() if t is not None} == {e.tarea_id for e in events}


def test_apply_counts_events_the_replica_already_has_as_stale(
    outbox: InMemoryOutbox, replica: InMemoryReplica
) -> None:
    tarea = Tarea.crear("t")
    newer = tarea.actualizar(titulo="nuevo")
    replica.apply([ReplicationEvent.upsert(newer)])
    old = outbox.add(ReplicationEvent.upsert(tarea))

    outcome = AplicarReplicacionUseCase(outbox, replica).execute([old.event_id])

    assert (outcome.applied, outcome.stale) == (0, 1)
    assert outbox.status(old.event_id) is EventStatus.DONE
    assert replica.tareas[tarea.id] == newer


def test_apply_loads_nothing_for_events_already_done(
    outbox: InMemoryOutbox, replica: InMemoryReplica
) -> None:
    event = outbox.add(upsert_event())
    use_case = AplicarReplicacionUseCase(outbox, replica)
    use_case.execute([event.event_id])

    again = use_case.execute([event.event_id, 999])

    assert (again.loaded, again.applied) == (0, 0)
    assert replica.calls == 1


def test_apply_failure_records_the_attempt_and_reraises(
    outbox: InMemoryOutbox, replica: InMemoryReplica
) -> None:
    event = outbox.add(upsert_event())
    replica.fail_with = StoreUnavailableError("mongo", "connection refused")

    with pytest.raises(StoreUnavailableError):
        AplicarReplicacionUseCase(outbox, replica).execute([event.event_id])

    assert outbox.status(event.event_id) is EventStatus.PENDING
    assert outbox.attempts(event.event_id) == 1
    assert outbox.failures(event.event_id) == ["StoreUnavailableError: mongo unavailable: connection refused"]


def test_apply_final_attempt_moves_events_to_dead_letters_without_raising(
    outbox: InMemoryOutbox, replica: InMemoryReplica, caplog: pytest.LogCaptureFixture
) -> None:
    events = [outbox.add(upsert_event(f"t{i}")) for i in range(2)]
    ids = [e.event_id for e in events]
    replica.fail_with = StoreUnavailableError("mongo", "down")
    use_case = AplicarReplicacionUseCase(outbox, replica)
    with pytest.raises(StoreUnavailableError):
        use_case.execute(ids)

    with caplog.at_level(logging.ERROR, logger="core.application.aplicar_replicacion"):
        outcome = use_case.execute(ids, final_attempt=True)

    assert (outcome.loaded, outcome.applied, outcome.dead) == (2, 0, 2)
    assert all(outbox.status(i) is EventStatus.DEAD for i in ids)
    assert all(outbox.attempts(i) == 2 for i in ids)
    assert any("dead letters" in r.getMessage() and r.event_ids == ids for r in caplog.records)  # type: ignore[attr-defined]
    # Dead events are no longer loaded: a late redelivery does nothing.
    assert use_case.execute(ids).loaded == 0


# -- RelayOutboxUseCase -------------------------------------------------------------------
def test_relay_publishes_undispatched_events_in_batches(
    outbox: InMemoryOutbox, publisher: RecordingPublisher
) -> None:
    ids = [outbox.add(upsert_event()).event_id for _ in range(5)]
    already_sent = outbox.add(upsert_event(), dispatched=True).event_id

    published = RelayOutboxUseCase(outbox, publisher).execute(batch_size=2)

    assert published == 5
    assert publisher.batches == [ids[0:2], ids[2:4], ids[4:5]]
    assert already_sent not in publisher.published_ids
    assert RelayOutboxUseCase(outbox, publisher).execute(batch_size=2) == 0


def test_relay_stops_after_max_batches(outbox: InMemoryOutbox, publisher: RecordingPublisher) -> None:
    for _ in range(6):
        outbox.add(upsert_event())
    relay = RelayOutboxUseCase(outbox, publisher)

    assert relay.execute(batch_size=2, max_batches=2) == 4
    assert relay.execute(batch_size=2, max_batches=2) == 2


def test_relay_skips_events_that_are_no_longer_pending(
    outbox: InMemoryOutbox, replica: InMemoryReplica, publisher: RecordingPublisher
) -> None:
    done = outbox.add(upsert_event()).event_id
    AplicarReplicacionUseCase(outbox, replica).execute([done])
    pending = outbox.add(upsert_event()).event_id

    RelayOutboxUseCase(outbox, publisher).execute(batch_size=10)

    assert publisher.published_ids == [pending]


def test_relay_publish_failure_releases_the_batch_for_the_next_round(
    outbox: InMemoryOutbox, publisher: RecordingPublisher, caplog: pytest.LogCaptureFixture
) -> None:
    ids = [outbox.add(upsert_event()).event_id for _ in range(3)]
    publisher.fail_with = ConnectionError("broker down")
    relay = RelayOutboxUseCase(outbox, publisher)

    with caplog.at_level(logging.WARNING, logger="core.application.relay_outbox"):
        assert relay.execute(batch_size=2) == 0

    assert not any(outbox.is_dispatched(i) for i in ids)
    assert any("could not publish" in r.getMessage() for r in caplog.records)
    publisher.fail_with = None
    assert relay.execute(batch_size=2) == 3
    assert sorted(publisher.published_ids) == ids


# -- ReplayEventsUseCase ------------------------------------------------------------------
def _dead_events(outbox: InMemoryOutbox, count: int) -> list[int]:
    ids = [outbox.add(upsert_event(f"t{i}")).event_id for i in range(count)]
    outbox.record_failure(ids, RuntimeError("boom"), dead=True)
    return ids


def test_replay_requeues_dead_events_and_publishes_them(
    outbox: InMemoryOutbox, replica: InMemoryReplica, publisher: RecordingPublisher
) -> None:
    dead = _dead_events(outbox, 3)
    pending = outbox.add(upsert_event()).event_id

    moved = ReplayEventsUseCase(outbox, publisher).execute([*dead, pending], batch_size=2)

    assert moved == dead
    assert publisher.batches == [dead[:2], dead[2:]]
    assert all(outbox.status(i) is EventStatus.PENDING for i in dead)
    # The replayed events now apply normally.
    outcome = AplicarReplicacionUseCase(outbox, replica).execute(dead)
    assert outcome.applied == 3


def test_replay_of_nothing_dead_publishes_nothing(
    outbox: InMemoryOutbox, publisher: RecordingPublisher
) -> None:
    pending = outbox.add(upsert_event()).event_id
    assert ReplayEventsUseCase(outbox, publisher).execute([pending, 12345]) == []
    assert publisher.batches == []


def test_replay_publish_failure_releases_events_for_the_relay(
    outbox: InMemoryOutbox, publisher: RecordingPublisher, caplog: pytest.LogCaptureFixture
) -> None:
    dead = _dead_events(outbox, 2)
    publisher.fail_with = ConnectionError("broker down")

    with caplog.at_level(logging.WARNING, logger="core.application.reenviar_eventos"):
        moved = ReplayEventsUseCase(outbox, publisher).execute(dead)

    assert moved == dead
    assert all(outbox.status(i) is EventStatus.PENDING and not outbox.is_dispatched(i) for i in dead)
    assert any("relay will send it" in r.getMessage() for r in caplog.records)
    publisher.fail_with = None
    assert RelayOutboxUseCase(outbox, publisher).execute(batch_size=10) == 2
    assert publisher.published_ids == dead


def test_upsert_event_carries_the_tarea_version() -> None:
    tarea = Tarea.crear("t").actualizar(titulo="u")
    event = ReplicationEvent.upsert(tarea, created_at=utc_now())
    assert (event.tarea_id, event.version, event.tarea) == (tarea.id, 2, tarea)
