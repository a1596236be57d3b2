"""Migration stages: which store is authoritative, which is replicated, which is read.

Modelled on LaunchDarkly's migration flags and Stripe's online migrations: one stage at
a time, forwards from SQL to MongoDB and back if needed. Unlike those, a failed write
to the secondary store is never skipped: it is queued and repaired through the outbox.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Store(enum.StrEnum):
    """The two stores a migration moves between."""

    SQL = "sql"
    MONGO = "mongo"

    @property
    def other(self) -> Store:
        return Store.MONGO if self is Store.SQL else Store.SQL


class MigrationStage(enum.StrEnum):
    """The stages, in migration order."""

    SQL_ONLY = "sql_only"
    DUAL_WRITE = "dual_write"
    SHADOW = "shadow"
    MONGO_PRIMARY = "mongo_primary"
    MONGO_ONLY = "mongo_only"

    @property
    def position(self) -> int:
        return list(MigrationStage).index(self)

    def steps_to(self, other: MigrationStage) -> int:
        """How many stages lie between this one and ``other`` (0 = same stage)."""
        return abs(other.position - self.position)

    @property
    def plan(self) -> StagePlan:
        return STAGE_PLANS[self]


@dataclass(frozen=True)
class StagePlan:
    """What a stage does with each store.

    ``authoritative`` is written synchronously and acknowledged to the client;
    ``replica`` (if any) is kept up to date through the outbox and the queue; reads go
    to ``read`` and, when ``shadow`` is set, are also compared against the replica.
    """

    authoritative: Store
    replica: Store | None
    read: Store
    shadow: bool = False


STAGE_PLANS: dict[MigrationStage, StagePlan] = {
    MigrationStage.SQL_ONLY: StagePlan(authoritative=Store.SQL, replica=None, read=Store.SQL),
    MigrationStage.DUAL_WRITE: StagePlan(authoritative=Store.SQL, replica=Store.MONGO, read=Store.SQL),
    MigrationStage.SHADOW: StagePlan(
        authoritative=Store.SQL, replica=Store.MONGO, read=Store.SQL, shadow=True
    ),
    MigrationStage.MONGO_PRIMARY: StagePlan(authoritative=Store.MONGO, replica=Store.SQL, read=Store.MONGO),
    MigrationStage.MONGO_ONLY: StagePlan(authoritative=Store.MONGO, replica=None, read=Store.MONGO),
}


@dataclass(frozen=True)
class StageChange:
    """One recorded change of stage: who moved it, when, from where, and whether guard
    rails were overridden (``forced``, with the ``reasons`` that were overridden)."""

    from_stage: MigrationStage | None
    to_stage: MigrationStage
    changed_by: str
    changed_at: datetime
    forced: bool = False
    reasons: tuple[str, ...] = field(default_factory=tuple)
