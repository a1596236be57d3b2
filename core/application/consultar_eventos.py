"""Use cases: list outbox events by filter, and show one with all its attempts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from core.domain.models.operations import (
    EventNotFoundError,
    EventPage,
    EventQuery,
    EventState,
    InvalidQueryError,
    OutboxEventDetail,
)
from core.domain.models.tarea import utc_now
from core.domain.ports.operations import OutboxQueries

MAX_BULK_EVENTS = 100_000


class ListarEventosUseCase:
    """One page of undone events (pending, retrying or dead) matching a filter."""

    def __init__(self, queries: OutboxQueries, clock: Callable[[], datetime] = utc_now) -> None:
        self._queries = queries
        self._clock = clock

    def execute(self, query: EventQuery) -> EventPage:
        # One extra row tells whether another page exists without a count query.
        rows = self._queries.search(query, self._clock(), query.limit + 1)
        items = rows[: query.limit]
        next_cursor = items[-1].event_id if len(rows) > query.limit else None
        return EventPage(items=items, next_cursor=next_cursor)


class ObtenerEventoUseCase:
    """One event with its payload and every failed attempt, or :class:`EventNotFoundError`."""

    def __init__(self, queries: OutboxQueries) -> None:
        self._queries = queries

    def execute(self, event_id: int) -> OutboxEventDetail:
        detail = self._queries.detail(event_id)
        if detail is None:
            raise EventNotFoundError(event_id)
        return detail


def dead_event_ids(
    queries: OutboxQueries, query: EventQuery, now: datetime, max_events: int = MAX_BULK_EVENTS
) -> list[int]:
    """Ids of every dead-lettered event matching ``query`` (all pages, up to ``max_events``).

    Bulk actions (replay, purge) only ever touch dead letters: a pending event is still
    owned by the queue and the relay.
    """
    if query.state not in (None, EventState.DEAD):
        raise InvalidQueryError("status", "bulk actions apply to dead-lettered events only (status=dead)")
    page = dataclasses.replace(query, state=EventState.DEAD, limit=500)
    ids: list[int] = []
    while len(ids) < max_events:
        rows = queries.search(page, now, page.limit)
        ids.extend(row.event_id for row in rows)
        if len(rows) < page.limit:
            break
        page = dataclasses.replace(page, cursor=rows[-1].event_id)
    return ids[:max_events]
