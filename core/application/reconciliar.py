"""Use case: find (and optionally repair) drift between SQL and the MongoDB replica.

pt-table-checksum style: both stores are read in chunks of ids (byte order, identical
in both), each chunk is reduced to a row count and a hash of every row's id, version
and content, and only chunks whose checksums differ are read row by row.

Repair never writes MongoDB directly. It records replication events through the
outbox and publishes them, so fixes travel the normal, version-guarded path:

* ``missing`` / ``stale``: an upsert of the current SQL row. The replica lets an event
  replace a document of the same version (events carry SQL's committed state), so
  this also fixes same-version content drift. When the replica holds a *higher*
  version (raised by hand, or a tombstone above a live row), the guard would ignore
  that upsert, so the SQL row is saved again with its version bumped past the
  replica's (content unchanged), in one transaction with its event. The bump is an
  ordinary guarded write: a concurrent update wins and the Tarea is reported as
  skipped (its own event fixes the replica).
* ``extra``: a delete event with the replica's version + 1, which leaves a tombstone.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from core.application.publicar_eventos import publish_in_batches
from core.domain.errors import ConflictoDeVersionError
from core.domain.models.operations import InvalidQueryError
from core.domain.models.reconciliation import (
    ChunkChecksum,
    ChunkProgress,
    Drift,
    DriftKind,
    IdRange,
    ReconcileReport,
    RowDigest,
)
from core.domain.models.replication import ReplicationEvent
from core.domain.models.tarea import utc_now
from core.domain.ports.operations import OutboxQueries, ReconcileRunStore
from core.domain.ports.reconciliation import TareaScanner
from core.domain.ports.replication import EventPublisher, Outbox, OutboxWriter
from core.domain.ports.tarea_repository import TareaRepository

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1000
PUBLISH_BATCH = 500
ProgressCallback = Callable[[ChunkProgress], None]


def chunk_ranges(bounds: Sequence[str]) -> list[IdRange]:
    """Cover the whole id space with ranges split at ``bounds`` (open at both ends, so
    rows only the replica has, beyond the first or last SQL id, are compared too)."""
    edges: list[str | None] = [None, *bounds, None]
    return [IdRange(lower, upper) for lower, upper in itertools.pairwise(edges)]


def compare_rows(sql_rows: Sequence[RowDigest], mongo_rows: Sequence[RowDigest]) -> list[Drift]:
    """Row-by-row differences of one range, in id order."""
    sql = {row.tarea_id: row for row in sql_rows}
    mongo = {row.tarea_id: row for row in mongo_rows}
    drift: list[Drift] = []
    for tarea_id in sorted(sql.keys() | mongo.keys()):
        in_sql, in_mongo = sql.get(tarea_id), mongo.get(tarea_id)
        if in_mongo is None:
            assert in_sql is not None
            drift.append(Drift(tarea_id, DriftKind.MISSING, in_sql.version, None))
        elif in_sql is None:
            drift.append(Drift(tarea_id, DriftKind.EXTRA, None, in_mongo.version))
        elif in_sql.digest != in_mongo.digest:
            drift.append(Drift(tarea_id, DriftKind.STALE, in_sql.version, in_mongo.version))
    return drift


class ReconciliarUseCase:
    """Compare the stores chunk by chunk; report drift; with ``repair`` queue the fixes."""

    def __init__(
        self,
        *,
        source: TareaScanner,
        replica: TareaScanner,
        authoritative: TareaRepository,
        writer: OutboxWriter,
        outbox: Outbox,
        publisher: EventPublisher,
        queries: OutboxQueries,
        runs: ReconcileRunStore | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._source = source
        self._replica = replica
        self._authoritative = authoritative
        self._writer = writer
        self._outbox = outbox
        self._publisher = publisher
        self._queries = queries
        self._runs = runs
        self._clock = clock

    def execute(
        self,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        repair: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ReconcileReport:
        if isinstance(chunk_size, bool) or not 1 <= chunk_size <= 100_000:
            raise InvalidQueryError("chunk_size", "must be between 1 and 100000")
        report = ReconcileReport(started_at=self._clock(), repair=repair)
        bounds = self._source.chunk_bounds(chunk_size)
        ranges = chunk_ranges(bounds)
        report.chunks = len(ranges)
        candidates: list[Drift] = []
        # Both stores are scanned once, in step, chunk by chunk.
        in_step = zip(ranges, self._source.checksums(bounds), self._replica.checksums(bounds), strict=True)
        for done, (id_range, sql_sum, mongo_sum) in enumerate(in_step, start=1):
            candidates.extend(self._compare_chunk(id_range, sql_sum, mongo_sum, report))
            if progress is not None:
                progress(ChunkProgress(done=done, total=len(ranges), drift=len(candidates)))
        report.drift, report.in_flight = self._confirm(candidates)
        if repair and report.drift:
            self._repair(report)
        report.finished_at = self._clock()
        if self._runs is not None:
            self._runs.save(report)
        logger.info(
            "Reconcile finished",
            extra={
                "chunks": report.chunks,
                "missing": report.count(DriftKind.MISSING),
                "extra": report.count(DriftKind.EXTRA),
                "stale": report.count(DriftKind.STALE),
                "repair_events": report.repair_events,
            },
        )
        return report

    def _compare_chunk(
        self, id_range: IdRange, sql_sum: ChunkChecksum, mongo_sum: ChunkChecksum, report: ReconcileReport
    ) -> list[Drift]:
        report.rows_sql += sql_sum.rows
        report.rows_mongo += mongo_sum.rows
        if sql_sum == mongo_sum:
            return []
        report.chunks_differing += 1
        return compare_rows(self._source.digests(id_range), self._replica.digests(id_range))

    def _confirm(self, candidates: list[Drift]) -> tuple[list[Drift], list[str]]:
        """Drop differences that are replication in progress, not drift.

        A Tarea with a pending event is still on its way; a Tarea written between the
        two chunk reads may look different once. Both are checked again here: only what
        still differs, with nothing pending, is drift.
        """
        if not candidates:
            return [], []
        ids = [d.tarea_id for d in candidates]
        pending = self._queries.tareas_with_pending_events(ids)
        settled = [tarea_id for tarea_id in ids if tarea_id not in pending]
        recheck = compare_rows(
            list(self._source.digests_of(settled).values()),
            list(self._replica.digests_of(settled).values()),
        )
        return recheck, sorted(pending)

    def _repair(self, report: ReconcileReport) -> None:
        held = self._replica.stored_versions([d.tarea_id for d in report.drift])
        to_record: list[ReplicationEvent] = []
        published: list[int] = []
        for drift in report.drift:
            tarea_id = UUID(drift.tarea_id)
            current = self._authoritative.get(tarea_id)
            replica_version = held.get(drift.tarea_id)
            if drift.kind is DriftKind.EXTRA:
                if current is not None:  # created since the scan: its own event replicates it
                    report.repair_skipped.append(drift.tarea_id)
                    continue
                version = (replica_version or drift.mongo_version or 0) + 1
                to_record.append(ReplicationEvent.delete(tarea_id, version, self._clock()))
            elif current is None:  # deleted since the scan: its delete event fixes the replica
                report.repair_skipped.append(drift.tarea_id)
            elif replica_version is None or current.version >= replica_version:
                to_record.append(ReplicationEvent.upsert(current, created_at=self._clock()))
            else:
                bumped = dataclasses.replace(current, version=replica_version + 1)
                try:
                    _, event = self._writer.save_and_record(bumped)
                except ConflictoDeVersionError:
                    report.repair_skipped.append(drift.tarea_id)
                    continue
                published.append(event.event_id)
        recorded = [event.event_id for event in self._outbox.record(to_record)] if to_record else []
        self._publish(recorded + published)
        report.repair_events = len(recorded) + len(published)

    def _publish(self, event_ids: list[int]) -> None:
        """Hand repair events to the queue; if it is down, the relay sends them later."""
        publish_in_batches(
            self._outbox, self._publisher, event_ids, PUBLISH_BATCH, "Repair events queued in the outbox"
        )
