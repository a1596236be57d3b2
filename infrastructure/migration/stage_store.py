"""The migration stage in SQL, and a short in-process cache in front of it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.domain.models.migration_stage import MigrationStage, StageChange
from core.domain.ports.stage_store import StageStore
from infrastructure.mapping.tarea_mapping import as_utc
from infrastructure.migration.tables import migration_stage_changes
from infrastructure.sqlalchemy.engine import translate_sql_errors

logger = logging.getLogger(__name__)


def _change_from_row(row: Mapping[Any, Any]) -> StageChange:
    return StageChange(
        from_stage=MigrationStage(row["from_stage"]) if row["from_stage"] else None,
        to_stage=MigrationStage(row["to_stage"]),
        changed_by=row["changed_by"],
        changed_at=as_utc(row["changed_at"]),
        forced=bool(row["forced"]),
        reasons=tuple(row["reasons"] or ()),
    )


class SqlStageStore(StageStore):
    """Stage history in the ``migration_stage_changes`` table; the newest row is current."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def current(self) -> MigrationStage | None:
        query = sa.select(migration_stage_changes.c.to_stage).order_by(migration_stage_changes.c.id.desc())
        with translate_sql_errors(), self._engine.connect() as conn:
            value = conn.execute(query.limit(1)).scalar_one_or_none()
        return MigrationStage(value) if value is not None else None

    def record(self, change: StageChange) -> None:
        with translate_sql_errors(), self._engine.begin() as conn:
            conn.execute(
                migration_stage_changes.insert().values(
                    from_stage=change.from_stage.value if change.from_stage else None,
                    to_stage=change.to_stage.value,
                    changed_by=change.changed_by,
                    changed_at=change.changed_at,
                    forced=change.forced,
                    reasons=list(change.reasons),
                )
            )

    def history(self, limit: int = 20) -> list[StageChange]:
        query = sa.select(migration_stage_changes).order_by(migration_stage_changes.c.id.desc()).limit(limit)
        with translate_sql_errors(), self._engine.connect() as conn:
            return [_change_from_row(row) for row in conn.execute(query).mappings()]


class CachedStageStore(StageStore):
    """Reads the stage at most once per ``ttl_seconds`` per process.

    Every request asks for the stage, so it must be cheap; yet a change made by any
    process must reach all others quickly without a restart: a TTL of about a second
    gives both. A change recorded through this process is visible here at once. When
    the store cannot be read, the last known stage stays in force (a stage lookup must
    never fail a request) and the store is asked again after the TTL.
    """

    def __init__(
        self, store: StageStore, ttl_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: MigrationStage | None = None
        self._expires_at = float("-inf")

    @property
    def ttl_seconds(self) -> float:
        return self._ttl

    def current(self) -> MigrationStage | None:
        now = self._clock()
        if now < self._expires_at:
            return self._value
        with self._lock:
            if now < self._expires_at:
                return self._value
            try:
                self._value = self._store.current()
            except Exception as exc:
                logger.warning(
                    "⚠️ Cannot read the migration stage; keeping the last known one",
                    extra={"stage": self._value.value if self._value else None, "error": repr(exc)},
                )
            self._expires_at = self._clock() + self._ttl
            return self._value

    def record(self, change: StageChange) -> None:
        self._store.record(change)
        with self._lock:
            self._value = change.to_stage
            self._expires_at = self._clock() + self._ttl

    def history(self, limit: int = 20) -> list[StageChange]:
        return self._store.history(limit)
