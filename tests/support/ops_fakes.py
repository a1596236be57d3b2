"""In-memory fakes of the operator-tooling ports (each subclasses its port)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime

from core.application.reconciliar import chunk_ranges
from core.domain.models.operations import EventQuery, EventState, OutboxEvent, OutboxEventDetail, OutboxStats
from core.domain.models.reconciliation import (
    BackfillCheckpoint,
    ChunkChecksum,
    IdRange,
    ReconcileReport,
    ReconcileSummary,
    RowDigest,
)
from core.domain.models.replication import EventStatus, ReplicationEvent
from core.domain.models.tarea import Tarea
from core.domain.ports.operations import OutboxQueries, ReconcileRunStore
from core.domain.ports.reconciliation import BackfillCheckpoints, TareaPager, TareaScanner
from core.domain.ports.replication import OutboxWriter
from infrastructure.mapping.tarea_digest import chunk_checksum, row_digest
from tests.support.fakes import InMemoryOutbox, InMemoryTareaRepository


class InMemoryScanner(TareaScanner, TareaPager):
    """Live Tareas by id, plus tombstone versions (deleted ids), like the replica."""

    def __init__(self, tareas: Sequence[Tarea] = ()) -> None:
        self.tareas: dict[str, Tarea] = {str(t.id): t for t in tareas}
        self.tombstones: dict[str, int] = {}

    def _in(self, id_range: IdRange) -> list[Tarea]:
        return [
            self.tareas[i]
            for i in sorted(self.tareas)
            if (id_range.lower is None or i >= id_range.lower)
            and (id_range.upper is None or i < id_range.upper)
        ]

    def chunk_bounds(self, chunk_size: int) -> list[str]:
        return sorted(self.tareas)[chunk_size::chunk_size]

    def checksums(self, bounds: Sequence[str]) -> Iterator[ChunkChecksum]:
        for id_range in chunk_ranges(bounds):
            yield chunk_checksum(self._in(id_range))

    def digests(self, id_range: IdRange) -> list[RowDigest]:
        return [row_digest(t) for t in self._in(id_range)]

    def digests_of(self, tarea_ids: Collection[str]) -> dict[str, RowDigest]:
        return {i: row_digest(self.tareas[i]) for i in tarea_ids if i in self.tareas}

    def stored_versions(self, tarea_ids: Collection[str]) -> dict[str, int]:
        versions = {i: self.tareas[i].version for i in tarea_ids if i in self.tareas}
        versions.update({i: v for i, v in self.tombstones.items() if i in tarea_ids})
        return versions

    def page_after(self, last_id: str | None, limit: int) -> list[Tarea]:
        return [self.tareas[i] for i in sorted(self.tareas) if last_id is None or i > last_id][:limit]

    def count_after(self, last_id: str | None) -> int:
        return len([i for i in self.tareas if last_id is None or i > last_id])


class InMemoryWriter(InMemoryTareaRepository, OutboxWriter):
    """The authoritative store with its outbox, in memory."""

    def __init__(self, outbox: InMemoryOutbox) -> None:
        super().__init__()
        self.outbox = outbox

    def save_and_record(self, tarea: Tarea) -> tuple[Tarea, ReplicationEvent]:
        self.save(tarea)
        (event,) = self.outbox.record([ReplicationEvent.upsert(tarea)])
        return tarea, event

    def eliminar_and_record(self, tarea_id):
        raise NotImplementedError


class InMemoryQueries(OutboxQueries):
    """Events as plain :class:`OutboxEvent` rows."""

    def __init__(self, events: Sequence[OutboxEvent] = (), pending_tareas: Collection[str] = ()) -> None:
        self.events = {e.event_id: e for e in events}
        self.pending_tareas = set(pending_tareas)
        self.searches: list[int] = []

    def stats(self) -> OutboxStats:
        raise NotImplementedError

    def search(self, query: EventQuery, now: datetime, limit: int) -> list[OutboxEvent]:
        self.searches.append(limit)
        wanted = {EventState.DEAD: "dead", EventState.PENDING: "pending", EventState.RETRYING: "retrying"}
        rows = [
            e
            for i, e in sorted(self.events.items())
            if (query.cursor is None or i > query.cursor)
            and (
                query.state is None
                or e.state == wanted[query.state]
                or (query.state is EventState.PENDING and e.status is EventStatus.PENDING)
            )
            and (query.error_type is None or e.last_error_type == query.error_type)
        ]
        return rows[:limit]

    def detail(self, event_id: int) -> OutboxEventDetail | None:
        event = self.events.get(event_id)
        return OutboxEventDetail(event, None) if event else None

    def delete_dead(self, event_ids: Sequence[int]) -> list[int]:
        gone = [i for i in event_ids if i in self.events and self.events[i].status is EventStatus.DEAD]
        for i in gone:
            del self.events[i]
        return gone

    def tareas_with_pending_events(self, tarea_ids: Collection[str]) -> set[str]:
        return self.pending_tareas & set(tarea_ids)


class InMemoryCheckpoints(BackfillCheckpoints):
    def __init__(self) -> None:
        self.saved: dict[str, BackfillCheckpoint] = {}

    def load(self, name: str) -> BackfillCheckpoint | None:
        return self.saved.get(name)

    def save(self, checkpoint: BackfillCheckpoint) -> None:
        self.saved[checkpoint.name] = checkpoint

    def clear(self, name: str) -> None:
        self.saved.pop(name, None)


class InMemoryRuns(ReconcileRunStore):
    def __init__(self) -> None:
        self.reports: list[ReconcileReport] = []

    def save(self, report: ReconcileReport) -> None:
        self.reports.append(dataclasses.replace(report))

    def last(self) -> ReconcileSummary | None:
        if not self.reports:
            return None
        r = self.reports[-1]
        assert r.finished_at is not None
        from core.domain.models.reconciliation import DriftKind

        return ReconcileSummary(
            r.started_at,
            r.finished_at,
            r.repair,
            r.count(DriftKind.MISSING),
            r.count(DriftKind.EXTRA),
            r.count(DriftKind.STALE),
            len(r.in_flight),
            r.repair_events,
        )
