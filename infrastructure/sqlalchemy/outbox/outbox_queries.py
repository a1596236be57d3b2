"""Operator queries over the SQL outbox: counts, filtered listings, detail, purge."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.domain.models.operations import (
    EventQuery,
    EventState,
    OutboxEvent,
    OutboxEventDetail,
    OutboxStats,
)
from core.domain.models.replication import EventAttempt, EventStatus, Operation
from core.domain.ports.operations import OutboxQueries
from infrastructure.mapping.tarea_mapping import as_utc
from infrastructure.sqlalchemy.engine import translate_sql_errors
from infrastructure.sqlalchemy.schema import outbox, outbox_attempts

IN_LIST_SIZE = 1000
PENDING = EventStatus.PENDING.value
DEAD = EventStatus.DEAD.value


def _maybe_utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _event_from_row(row: Mapping[Any, Any]) -> OutboxEvent:
    return OutboxEvent(
        event_id=int(row["id"]),
        operation=Operation(row["operation"]),
        tarea_id=UUID(row["tarea_id"]),
        version=int(row["version"]),
        status=EventStatus(row["status"]),
        attempts=int(row["attempts"]),
        last_error_type=row["last_error_type"],
        last_error=row["last_error"],
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
        dispatched_at=_maybe_utc(row["dispatched_at"]),
        applied_at=_maybe_utc(row["applied_at"]),
    )


def _count_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _state_condition(state: EventState | None) -> sa.ColumnElement[bool]:
    if state is EventState.PENDING:
        return outbox.c.status == PENDING
    if state is EventState.RETRYING:
        return sa.and_(outbox.c.status == PENDING, outbox.c.attempts > 0)
    if state is EventState.DEAD:
        return outbox.c.status == DEAD
    return outbox.c.status.in_([PENDING, DEAD])


class SqlOutboxQueries(OutboxQueries):
    """:class:`OutboxQueries` on the SQL outbox tables. Every filter value is a bound
    parameter of a fixed statement; nothing from the caller becomes SQL text."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def stats(self) -> OutboxStats:
        pending = outbox.c.status == PENDING
        undone = sa.select(
            _count_where(sa.and_(pending, outbox.c.attempts == 0, outbox.c.dispatched_at.is_(None))),
            _count_where(sa.and_(pending, outbox.c.attempts == 0, outbox.c.dispatched_at.is_not(None))),
            _count_where(sa.and_(pending, outbox.c.attempts > 0)),
            _count_where(outbox.c.status == DEAD),
            sa.func.min(sa.case((pending, outbox.c.created_at), else_=None)),
        ).where(outbox.c.status.in_([PENDING, DEAD]))
        last_applied = sa.select(sa.func.max(outbox.c.applied_at)).where(
            outbox.c.status == EventStatus.DONE.value
        )
        with translate_sql_errors(), self._engine.connect() as conn:
            waiting, in_flight, retrying, dead, oldest = conn.execute(undone).one()
            applied = conn.execute(last_applied).scalar_one_or_none()
        return OutboxStats(
            waiting=int(waiting),
            in_flight=int(in_flight),
            retrying=int(retrying),
            dead=int(dead),
            oldest_pending_at=_maybe_utc(oldest),
            last_applied_at=_maybe_utc(applied),
        )

    def search(self, query: EventQuery, now: datetime, limit: int) -> list[OutboxEvent]:
        statement = sa.select(outbox).where(_state_condition(query.state))
        if query.operation is not None:
            statement = statement.where(outbox.c.operation == query.operation.value)
        if query.error_type is not None:
            statement = statement.where(outbox.c.last_error_type == query.error_type)
        if query.older_than_seconds is not None:
            statement = statement.where(
                outbox.c.created_at < now - timedelta(seconds=query.older_than_seconds)
            )
        if query.cursor is not None:
            statement = statement.where(outbox.c.id > query.cursor)
        statement = statement.order_by(outbox.c.id).limit(limit)
        with translate_sql_errors(), self._engine.connect() as conn:
            return [_event_from_row(row) for row in conn.execute(statement).mappings()]

    def detail(self, event_id: int) -> OutboxEventDetail | None:
        with translate_sql_errors(), self._engine.connect() as conn:
            row = conn.execute(sa.select(outbox).where(outbox.c.id == event_id)).mappings().first()
            if row is None:
                return None
            attempts = conn.execute(
                sa.select(outbox_attempts)
                .where(outbox_attempts.c.event_id == event_id)
                .order_by(outbox_attempts.c.attempt, outbox_attempts.c.id)
            ).mappings()
            return OutboxEventDetail(
                event=_event_from_row(row),
                payload=dict(row["payload"]) if row["payload"] else None,
                attempts=[
                    EventAttempt(
                        attempt=int(a["attempt"]),
                        error_type=a["error_type"],
                        error=a["error"],
                        at=as_utc(a["at"]),
                    )
                    for a in attempts
                ],
            )

    def delete_dead(self, event_ids: Sequence[int]) -> list[int]:
        deleted: list[int] = []
        with translate_sql_errors(), self._engine.begin() as conn:
            for start in range(0, len(event_ids), IN_LIST_SIZE):
                chunk = list(event_ids[start : start + IN_LIST_SIZE])
                dead = sa.select(outbox.c.id).where(outbox.c.id.in_(chunk), outbox.c.status == DEAD)
                conn.execute(outbox_attempts.delete().where(outbox_attempts.c.event_id.in_(dead)))
                removed = conn.execute(
                    outbox.delete()
                    .where(outbox.c.id.in_(chunk), outbox.c.status == DEAD)
                    .returning(outbox.c.id)
                ).scalars()
                deleted.extend(int(i) for i in removed)
        return sorted(deleted)

    def tareas_with_pending_events(self, tarea_ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        ids = sorted(tarea_ids)
        with translate_sql_errors(), self._engine.connect() as conn:
            for start in range(0, len(ids), IN_LIST_SIZE):
                query = (
                    sa.select(outbox.c.tarea_id)
                    .where(
                        outbox.c.tarea_id.in_(ids[start : start + IN_LIST_SIZE]), outbox.c.status == PENDING
                    )
                    .distinct()
                )
                found.update(str(i) for i in conn.execute(query).scalars())
        return found
