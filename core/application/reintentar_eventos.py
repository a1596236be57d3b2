"""Use cases: redrive dead-lettered events, one by id or every one matching a filter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from core.application.consultar_eventos import dead_event_ids
from core.application.reenviar_eventos import ReplayEventsUseCase
from core.domain.models.operations import EventNotFoundError, EventQuery, EventStateError
from core.domain.models.replication import EventStatus
from core.domain.models.tarea import utc_now
from core.domain.ports.operations import OutboxQueries


class ReintentarEventoUseCase:
    """Replay one dead-lettered event; 'not found' and 'not dead' are errors, so an
    operator learns that nothing happened."""

    def __init__(self, queries: OutboxQueries, replay: ReplayEventsUseCase) -> None:
        self._queries = queries
        self._replay = replay

    def execute(self, event_id: int) -> list[int]:
        detail = self._queries.detail(event_id)
        if detail is None:
            raise EventNotFoundError(event_id)
        if detail.event.status is not EventStatus.DEAD:
            raise EventStateError(event_id, detail.event.state, "replayed")
        return self._replay.execute([event_id])


class ReintentarEventosUseCase:
    """Replay every dead-lettered event matching a filter (bulk redrive)."""

    def __init__(
        self, queries: OutboxQueries, replay: ReplayEventsUseCase, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._queries = queries
        self._replay = replay
        self._clock = clock

    def execute(self, query: EventQuery) -> list[int]:
        """Return the ids now queued again."""
        ids = dead_event_ids(self._queries, query, self._clock())
        return self._replay.execute(ids) if ids else []
