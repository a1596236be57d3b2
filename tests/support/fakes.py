"""In-memory fakes of the core ports, for fast unit tests.

Each fake subclasses its port and keeps the port's documented rules (the version guard
of ``TareaRepository.save``, the pending/done/dead life of outbox events), so a use case
tested against a fake behaves as it does against the real adapters. The repository fake
also runs the repository contract suite, which keeps it honest.
"""

from __future__ import annotations

import builtins
import dataclasses
import threading
from collections.abc import Callable, Sequence
from uuid import UUID

from core.domain.errors import ConflictoDeVersionError
from core.domain.models.replication import ApplyResult, EventStatus, Operation, ReplicationEvent
from core.domain.models.tarea import EstadoTarea, Tarea, utc_now
from core.domain.ports.replication import EventPublisher, Outbox, ReplicaWriter
from core.domain.ports.tarea_repository import TareaRepository


class InMemoryTareaRepository(TareaRepository):
    """A dict of Tareas guarded by ``version`` like the real stores."""

    def __init__(self) -> None:
        self._tareas: dict[UUID, Tarea] = {}
        self._lock = threading.Lock()

    def save(self, tarea: Tarea) -> Tarea:
        with self._lock:
            stored = self._tareas.get(tarea.id)
            if stored is not None and stored.version >= tarea.version:
                raise ConflictoDeVersionError(tarea.id, tarea.version - 1, stored.version)
            self._tareas[tarea.id] = tarea
        return tarea

    def get(self, tarea_id: UUID) -> Tarea | None:
        with self._lock:
            return self._tareas.get(tarea_id)

    def list(self, *, estado: EstadoTarea | None = None, limit: int = 100, offset: int = 0) -> list[Tarea]:
        return self._matching(estado)[offset : offset + limit]

    def count(self, *, estado: EstadoTarea | None = None) -> int:
        return len(self._matching(estado))

    def eliminar(self, tarea_id: UUID) -> bool:
        with self._lock:
            return self._tareas.pop(tarea_id, None) is not None

    def _matching(self, estado: EstadoTarea | None) -> builtins.list[Tarea]:
        with self._lock:
            tareas = [t for t in self._tareas.values() if estado is None or t.estado is estado]
        return sorted(tareas, key=lambda t: (t.created_at, str(t.id)))


@dataclasses.dataclass
class _OutboxEntry:
    event: ReplicationEvent
    dispatched: bool
    failures: list[str] = dataclasses.field(default_factory=list)


class InMemoryOutbox(Outbox):
    """Outbox events in a dict. ``dispatched`` mirrors the SQL ``dispatched_at`` column:
    a claimed or published event is not claimed again until released."""

    def __init__(self) -> None:
        self._entries: dict[int, _OutboxEntry] = {}
        self._next_id = 1
        self._lock = threading.Lock()

    # -- helpers for tests -------------------------------------------------------------
    def add(self, event: ReplicationEvent, *, dispatched: bool = False) -> ReplicationEvent:
        (recorded,) = self._insert([event], dispatched=dispatched)
        return recorded

    def status(self, event_id: int) -> EventStatus:
        return self._entries[event_id].event.status

    def attempts(self, event_id: int) -> int:
        return self._entries[event_id].event.attempts

    def failures(self, event_id: int) -> list[str]:
        return list(self._entries[event_id].failures)

    def is_dispatched(self, event_id: int) -> bool:
        return self._entries[event_id].dispatched

    # -- Outbox ------------------------------------------------------------------------
    def record(self, events: Sequence[ReplicationEvent]) -> list[ReplicationEvent]:
        return self._insert(events, dispatched=False)

    def load(self, event_ids: Sequence[int]) -> list[ReplicationEvent]:
        with self._lock:
            return [
                self._entries[i].event
                for i in sorted(set(event_ids))
                if i in self._entries and self._entries[i].event.status is EventStatus.PENDING
            ]

    def mark_done(self, event_ids: Sequence[int]) -> None:
        self._update_pending(event_ids, lambda e: dataclasses.replace(e, status=EventStatus.DONE))

    def record_failure(self, event_ids: Sequence[int], error: BaseException, *, dead: bool) -> None:
        status = EventStatus.DEAD if dead else EventStatus.PENDING
        with self._lock:
            for entry in self._pending(event_ids):
                entry.failures.append(f"{type(error).__name__}: {error}")
                entry.event = dataclasses.replace(
                    entry.event, attempts=entry.event.attempts + 1, status=status, last_error=str(error)
                )

    def release(self, event_ids: Sequence[int]) -> None:
        with self._lock:
            for entry in self._pending(event_ids):
                entry.dispatched = False

    def claim_for_dispatch(self, limit: int) -> list[int]:
        with self._lock:
            due = [
                event_id
                for event_id, entry in sorted(self._entries.items())
                if entry.event.status is EventStatus.PENDING and not entry.dispatched
            ][:limit]
            for event_id in due:
                self._entries[event_id].dispatched = True
            return due

    def requeue(self, event_ids: Sequence[int]) -> list[int]:
        with self._lock:
            moved = [
                i
                for i in sorted(set(event_ids))
                if i in self._entries and self._entries[i].event.status is EventStatus.DEAD
            ]
            for event_id in moved:
                entry = self._entries[event_id]
                entry.event = dataclasses.replace(entry.event, status=EventStatus.PENDING)
                entry.dispatched = True
            return moved

    def prune_done(self, older_than_seconds: float) -> int:
        with self._lock:
            done = [i for i, e in self._entries.items() if e.event.status is EventStatus.DONE]
            for event_id in done:
                del self._entries[event_id]
            return len(done)

    # -- internals ---------------------------------------------------------------------
    def _insert(self, events: Sequence[ReplicationEvent], *, dispatched: bool) -> list[ReplicationEvent]:
        recorded = []
        with self._lock:
            for event in events:
                stored = dataclasses.replace(event, event_id=self._next_id, status=EventStatus.PENDING)
                self._entries[self._next_id] = _OutboxEntry(stored, dispatched)
                self._next_id += 1
                recorded.append(stored)
        return recorded

    def _pending(self, event_ids: Sequence[int]) -> list[_OutboxEntry]:
        return [
            self._entries[i]
            for i in event_ids
            if i in self._entries and self._entries[i].event.status is EventStatus.PENDING
        ]

    def _update_pending(
        self, event_ids: Sequence[int], change: Callable[[ReplicationEvent], ReplicationEvent]
    ) -> None:
        with self._lock:
            for entry in self._pending(event_ids):
                entry.event = change(entry.event)


class InMemoryReplica(ReplicaWriter):
    """A replica keeping the newest version of each Tarea; ``fail_with`` makes every
    ``apply`` raise (a replica that is down)."""

    def __init__(self) -> None:
        self.tareas: dict[UUID, Tarea | None] = {}
        self.versions: dict[UUID, int] = {}
        self.fail_with: BaseException | None = None
        self.calls = 0

    def apply(self, events: Sequence[ReplicationEvent]) -> ApplyResult:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        applied = stale = 0
        for event in events:
            if self.versions.get(event.tarea_id, 0) > event.version:  # as the real replica
                stale += 1
                continue
            self.versions[event.tarea_id] = event.version
            self.tareas[event.tarea_id] = event.tarea if event.operation is Operation.UPSERT else None
            applied += 1
        return ApplyResult(applied=applied, stale=stale)


class RecordingPublisher(EventPublisher):
    """Records every published batch; ``fail_with`` makes ``publish`` raise (queue down)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.fail_with: BaseException | None = None
        self._lock = threading.Lock()

    @property
    def published_ids(self) -> list[int]:
        with self._lock:
            return [event_id for batch in self.batches for event_id in batch]

    def publish(self, event_ids: Sequence[int]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            self.batches.append(list(event_ids))


def upsert_event(titulo: str = "evento") -> ReplicationEvent:
    """A fresh upsert event for a new Tarea."""
    return ReplicationEvent.upsert(Tarea.crear(titulo), created_at=utc_now())
