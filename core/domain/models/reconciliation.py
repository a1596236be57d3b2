"""Reconciliation and backfill: chunk checksums, drift and progress."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class DriftKind(enum.StrEnum):
    """How the replica differs from the authoritative store for one Tarea."""

    MISSING = "missing"  # in SQL, not live in MongoDB
    EXTRA = "extra"  # live in MongoDB, not in SQL
    STALE = "stale"  # in both, but version or content differs


@dataclass(frozen=True)
class IdRange:
    """Ids ``lower <= id < upper`` (byte order); ``None`` leaves that side open."""

    lower: str | None
    upper: str | None


@dataclass(frozen=True)
class ChunkChecksum:
    """Row count and order-sensitive hash of every row digest in an id range."""

    rows: int
    digest: str


@dataclass(frozen=True)
class RowDigest:
    """One row's id, version and hash of its full content (the shared payload)."""

    tarea_id: str
    version: int
    digest: str


@dataclass(frozen=True)
class Drift:
    """One differing Tarea. Versions are ``None`` on the side that lacks it."""

    tarea_id: str
    kind: DriftKind
    sql_version: int | None
    mongo_version: int | None


@dataclass(frozen=True)
class ChunkProgress:
    """Progress callback payload: ``done`` of ``total`` chunks, drift found so far."""

    done: int
    total: int
    drift: int


@dataclass
class ReconcileReport:
    """What a reconcile run found (and, with repair, what it queued)."""

    started_at: datetime
    finished_at: datetime | None = None
    repair: bool = False
    chunks: int = 0
    chunks_differing: int = 0
    rows_sql: int = 0
    rows_mongo: int = 0
    drift: list[Drift] = field(default_factory=list)
    # Differences on Tareas that still have undone outbox events: replication lag, not drift.
    in_flight: list[str] = field(default_factory=list)
    repair_events: int = 0
    repair_skipped: list[str] = field(default_factory=list)

    def count(self, kind: DriftKind) -> int:
        return sum(1 for d in self.drift if d.kind is kind)

    @property
    def has_drift(self) -> bool:
        return bool(self.drift)


@dataclass(frozen=True)
class BackfillCheckpoint:
    """Where a backfill got to: every id ``<= last_id`` has been copied."""

    name: str
    last_id: str | None
    copied: int
    finished: bool


@dataclass(frozen=True)
class BackfillProgress:
    """Progress callback payload of a backfill."""

    copied: int
    total: int
    last_id: str | None


@dataclass(frozen=True)
class BackfillResult:
    """What a backfill run did. ``skipped`` rows were already as new in MongoDB."""

    copied: int
    applied: int
    skipped: int
    batches: int
    resumed_from: str | None
    total_copied: int


@dataclass(frozen=True)
class ReconcileSummary:
    """The counts of a stored reconcile run."""

    started_at: datetime
    finished_at: datetime
    repair: bool
    missing: int
    extra: int
    stale: int
    in_flight: int
    repair_events: int

    def drift(self, kind: DriftKind) -> int:
        return {DriftKind.MISSING: self.missing, DriftKind.EXTRA: self.extra, DriftKind.STALE: self.stale}[
            kind
        ]
