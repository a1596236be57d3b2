"""Outcome of a shadow read: the replica's answer compared with the authoritative one."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID


class ShadowResult(enum.StrEnum):
    """How the replica's answer compared with the authoritative one."""

    MATCH = "match"
    MISMATCH = "mismatch"
    # The replica holds an older version: replication lag, not a defect.
    STALE = "stale"
    ERROR = "error"


@dataclass(frozen=True)
class FieldDifference:
    """One field whose normalised value differs between the stores."""

    field: str
    authoritative: object
    replica: object


@dataclass(frozen=True)
class ShadowMismatch:
    """A sample kept for operators: which Tarea, which fields, when."""

    tarea_id: UUID
    differences: tuple[FieldDifference, ...]
    detected_at: datetime
    id: int = 0


@dataclass(frozen=True)
class ShadowOutcome:
    """What one shadow comparison found."""

    result: ShadowResult
    differences: tuple[FieldDifference, ...] = field(default_factory=tuple)
