"""The transactional outbox in SQL: replication events, their attempts and dead letters."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.domain.models.migration_stage import Store
from core.domain.models.replication import EventStatus, Operation, ReplicationEvent
from core.domain.models.tarea import utc_now
from core.domain.ports.replication import Outbox
from infrastructure.mapping.tarea_mapping import as_utc, tarea_from_payload, tarea_to_payload
from infrastructure.sqlalchemy.engine import translate_sql_errors
from infrastructure.sqlalchemy.schema import outbox, outbox_attempts

MAX_ERROR_LENGTH = 4000


def event_from_row(row: Mapping[Any, Any]) -> ReplicationEvent:
    """Rebuild a ReplicationEvent from an outbox row."""
    payload = row["payload"]
    return ReplicationEvent(
        event_id=int(row["id"]),
        operation=Operation(row["operation"]),
        tarea_id=UUID(row["tarea_id"]),
        version=int(row["version"]),
        tarea=tarea_from_payload(payload) if payload else None,
        created_at=as_utc(row["created_at"]),
        attempts=int(row["attempts"]),
        status=EventStatus(row["status"]),
        last_error=row["last_error"],
        target=Store(row.get("target") or Store.MONGO.value),
    )


_INSERT_EVENT = outbox.insert().returning(outbox.c.id)


def _commit_without_flush_wait(conn: Connection) -> None:
    """PostgreSQL: do not wait for this transaction's WAL flush at commit.

    Only for bookkeeping whose loss in a database crash is harmless: an event marked
    applied or claimed that reverts to pending is sent and applied once more, and the
    replica ignores what it already has. Never for the write and its event, which must
    be durable before the client hears "created".
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


# The columns :func:`event_values` fills; the others keep their defaults until updated.
NEW_EVENT_COLUMNS = (
    "operation",
    "tarea_id",
    "version",
    "payload",
    "status",
    "attempts",
    "created_at",
    "updated_at",
    "dispatched_at",
    "target",
)


def event_values(event: ReplicationEvent, *, dispatched: bool) -> dict[str, Any]:
    """The outbox row of a new ``event``.

    ``dispatched`` marks it as handed to the queue now: the caller publishes right
    after commit, and calls :meth:`SqlOutbox.release` if that fails. The happy path
    thus costs no second write.
    """
    now = utc_now()
    return {
        "operation": event.operation.value,
        "tarea_id": str(event.tarea_id),
        "version": event.version,
        "payload": tarea_to_payload(event.tarea) if event.tarea is not None else None,
        "status": EventStatus.PENDING.value,
        "attempts": 0,
        "created_at": event.created_at,
        "updated_at": now,
        "dispatched_at": now if dispatched else None,
        "target": event.target.value,
    }


def insert_events(
    conn: Connection, events: Sequence[ReplicationEvent], *, dispatched: bool
) -> list[ReplicationEvent]:
    """Insert events on ``conn`` (inside the caller's transaction); return them with ids
    (see :func:`event_values` for ``dispatched``)."""
    recorded = []
    for event in events:
        # One statement object with bound parameters: compiled once and cached, where
        # ``.values(...)`` would build and compile a new statement on every write.
        result = conn.execute(_INSERT_EVENT, event_values(event, dispatched=dispatched))
        event_id = int(result.scalar_one())
        recorded.append(dataclasses.replace(event, event_id=event_id))
    return recorded


class SqlOutbox(Outbox):
    """Outbox port on the SQL database that holds the authoritative data."""

    def __init__(self, engine: Engine, *, redispatch_after_seconds: float = 120.0) -> None:
        self._engine = engine
        self._redispatch_after = timedelta(seconds=redispatch_after_seconds)

    @property
    def engine(self) -> Engine:
        return self._engine

    def record(self, events: Sequence[ReplicationEvent]) -> list[ReplicationEvent]:
        with translate_sql_errors(), self._engine.begin() as conn:
            return insert_events(conn, events, dispatched=False)

    def load(self, event_ids: Sequence[int]) -> list[ReplicationEvent]:
        if not event_ids:
            return []
        query = (
            sa.select(outbox)
            .where(outbox.c.id.in_(list(event_ids)), outbox.c.status == EventStatus.PENDING.value)
            .order_by(outbox.c.id)
        )
        with translate_sql_errors(), self._engine.connect() as conn:
            return [event_from_row(row) for row in conn.execute(query).mappings()]

    def mark_done(self, event_ids: Sequence[int]) -> None:
        now = utc_now()
        with translate_sql_errors(), self._engine.begin() as conn:
            _commit_without_flush_wait(conn)
            conn.execute(
                outbox.update()
                .where(outbox.c.id.in_(list(event_ids)), outbox.c.status == EventStatus.PENDING.value)
                .values(status=EventStatus.DONE.value, applied_at=now, updated_at=now)
            )

    def record_failure(self, event_ids: Sequence[int], error: BaseException, *, dead: bool) -> None:
        now = utc_now()
        error_type = type(error).__name__
        message = str(error)[:MAX_ERROR_LENGTH] or error_type
        ids = list(event_ids)
        values: dict[str, Any] = {
            "attempts": outbox.c.attempts + 1,
            "last_error": message,
            "last_error_type": error_type,
            "updated_at": now,
            # A retry is already scheduled by the queue; the relay waits before resending.
            "dispatched_at": now,
        }
        if dead:
            values["status"] = EventStatus.DEAD.value
        with translate_sql_errors(), self._engine.begin() as conn:
            # Only events still pending count the attempt: another delivery of the same
            # event may have applied it meanwhile, and a done event has no attempts left.
            attempts = conn.execute(
                outbox.update()
                .where(outbox.c.id.in_(ids), outbox.c.status == EventStatus.PENDING.value)
                .values(values)
                .returning(outbox.c.id, outbox.c.attempts)
            ).all()
            if attempts:
                conn.execute(
                    outbox_attempts.insert(),
                    [
                        {"event_id": eid, "attempt": n, "error_type": error_type, "error": message, "at": now}
                        for eid, n in attempts
                    ],
                )

    def release(self, event_ids: Sequence[int]) -> None:
        with translate_sql_errors(), self._engine.begin() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.id.in_(list(event_ids)), outbox.c.status == EventStatus.PENDING.value)
                .values(dispatched_at=None)
            )

    def claim_for_dispatch(self, limit: int) -> list[int]:
        now = utc_now()
        due = sa.or_(
            outbox.c.dispatched_at.is_(None),
            outbox.c.dispatched_at < now - self._redispatch_after,
        )
        candidates = (
            sa.select(outbox.c.id)
            .where(outbox.c.status == EventStatus.PENDING.value, due)
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with translate_sql_errors(), self._engine.begin() as conn:
            _commit_without_flush_wait(conn)
            if conn.dialect.name == "postgresql":
                # Several relays may run: each claims rows the others have not locked.
                candidates = candidates.with_for_update(skip_locked=True)
            # On SQLite the single UPDATE statement holds the database write lock, so two
            # relays can never claim the same row either.
            claimed = conn.execute(
                outbox.update()
                .where(outbox.c.id.in_(candidates.scalar_subquery()))
                .values(dispatched_at=now)
                .returning(outbox.c.id)
            ).scalars()
            return sorted(int(i) for i in claimed)

    def requeue(self, event_ids: Sequence[int]) -> list[int]:
        with translate_sql_errors(), self._engine.begin() as conn:
            moved = conn.execute(
                outbox.update()
                .where(outbox.c.id.in_(list(event_ids)), outbox.c.status == EventStatus.DEAD.value)
                .values(status=EventStatus.PENDING.value, dispatched_at=utc_now(), updated_at=utc_now())
                .returning(outbox.c.id)
            ).scalars()
            return sorted(int(i) for i in moved)

    def prune_done(self, older_than_seconds: float) -> int:
        cutoff = utc_now() - timedelta(seconds=older_than_seconds)
        with translate_sql_errors(), self._engine.begin() as conn:
            result = conn.execute(
                outbox.delete().where(outbox.c.status == EventStatus.DONE.value, outbox.c.applied_at < cutoff)
            )
            return int(result.rowcount or 0)
