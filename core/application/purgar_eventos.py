"""Use cases: delete dead-lettered events for good, one or by filter, when confirmed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from core.application.consultar_eventos import dead_event_ids
from core.domain.models.operations import (
    ConfirmationRequiredError,
    EventNotFoundError,
    EventQuery,
    EventStateError,
)
from core.domain.models.replication import EventStatus
from core.domain.models.tarea import utc_now
from core.domain.ports.operations import OutboxQueries

logger = logging.getLogger(__name__)


class PurgarEventoUseCase:
    """Delete one dead-lettered event. Pending events are refused: deleting one would
    silently drop a change the replica still needs (reconcile would find it later)."""

    def __init__(self, queries: OutboxQueries) -> None:
        self._queries = queries

    def execute(self, event_id: int, *, confirm: bool) -> list[int]:
        if not confirm:
            raise ConfirmationRequiredError("deleting an event")
        detail = self._queries.detail(event_id)
        if detail is None:
            raise EventNotFoundError(event_id)
        if detail.event.status is not EventStatus.DEAD:
            raise EventStateError(event_id, detail.event.state, "deleted")
        deleted = self._queries.delete_dead([event_id])
        logger.warning("Dead-lettered event purged", extra={"event_ids": deleted})
        return deleted


class PurgarEventosUseCase:
    """Delete every dead-lettered event matching a filter."""

    def __init__(self, queries: OutboxQueries, clock: Callable[[], datetime] = utc_now) -> None:
        self._queries = queries
        self._clock = clock

    def execute(self, query: EventQuery, *, confirm: bool) -> list[int]:
        if not confirm:
            raise ConfirmationRequiredError("purging events")
        ids = dead_event_ids(self._queries, query, self._clock())
        deleted = self._queries.delete_dead(ids) if ids else []
        if deleted:
            logger.warning("Dead-lettered events purged", extra={"count": len(deleted)})
        return deleted
