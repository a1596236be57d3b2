"""What operators ask about the replication path: outbox filters, event views, status."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from core.domain.errors import DualWriteError
from core.domain.models.replication import EventAttempt, EventStatus, Operation

MAX_EVENT_PAGE = 500
# Exception class names as recorded by the outbox (``type(error).__name__``, maybe dotted).
ERROR_TYPE_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,199}$")


class InvalidQueryError(DualWriteError, ValueError):
    """An operator filter or argument is not acceptable."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class EventNotFoundError(DualWriteError, LookupError):
    """No outbox event has that id."""

    def __init__(self, event_id: int) -> None:
        super().__init__(f"event {event_id} not found")
        self.event_id = event_id


class EventStateError(DualWriteError):
    """The event is not in a state that allows the requested action."""

    def __init__(self, event_id: int, status: str, action: str) -> None:
        super().__init__(f"event {event_id} is {status}; only dead-lettered events can be {action}")
        self.event_id = event_id
        self.status = status


class EventState(enum.StrEnum):
    """Operator-facing states of an undone event (``retrying`` is pending with failures)."""

    PENDING = "pending"
    RETRYING = "retrying"
    DEAD = "dead"


E = TypeVar("E", bound=enum.StrEnum)


def _parse_enum(kind: type[E], name: str, value: object) -> E:
    if isinstance(value, kind):
        return value
    if not isinstance(value, str):
        raise InvalidQueryError(name, "must be a plain string")
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(e.value for e in kind)
        raise InvalidQueryError(name, f"must be one of: {allowed}") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class EventQuery:
    """A validated filter over outbox events, paginated by event id (``cursor`` = last id seen).

    Every field is checked on construction, so a query built from untrusted input (HTTP,
    CLI) can only hold plain values: no operators, no unbounded pages.
    """

    state: EventState | None = None
    operation: Operation | None = None
    error_type: str | None = None
    older_than_seconds: float | None = None
    limit: int = 50
    cursor: int | None = None

    def __post_init__(self) -> None:
        if self.state is not None:
            object.__setattr__(self, "state", _parse_enum(EventState, "status", self.state))
        if self.operation is not None:
            object.__setattr__(self, "operation", _parse_enum(Operation, "operation", self.operation))
        if self.error_type is not None and (
            not isinstance(self.error_type, str) or not ERROR_TYPE_PATTERN.fullmatch(self.error_type)
        ):
            raise InvalidQueryError(
                "error_type", "must be an exception class name, e.g. StoreUnavailableError"
            )
        if self.older_than_seconds is not None and (
            isinstance(self.older_than_seconds, bool)
            or not isinstance(self.older_than_seconds, int | float)
            or not 0 <= self.older_than_seconds <= 10 * 365 * 86400
        ):
            raise InvalidQueryError("older_than_seconds", "must be a number of seconds >= 0")
        if not _is_int(self.limit) or not 1 <= self.limit <= MAX_EVENT_PAGE:
            raise InvalidQueryError("limit", f"must be an integer between 1 and {MAX_EVENT_PAGE}")
        if self.cursor is not None and (not _is_int(self.cursor) or self.cursor < 0):
            raise InvalidQueryError("cursor", "must be an integer >= 0 (the next_cursor of a previous page)")


@dataclass(frozen=True)
class OutboxEvent:
    """An outbox event as operators see it."""

    event_id: int
    operation: Operation
    tarea_id: UUID
    version: int
    status: EventStatus
    attempts: int
    last_error_type: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None
    applied_at: datetime | None

    @property
    def state(self) -> str:
        """``pending``, ``retrying``, ``dead`` or ``done``."""
        if self.status is EventStatus.PENDING and self.attempts > 0:
            return EventState.RETRYING.value
        return self.status.value


@dataclass(frozen=True)
class OutboxEventDetail:
    """One event with its payload and every failed attempt."""

    event: OutboxEvent
    payload: dict[str, object] | None
    attempts: list[EventAttempt] = field(default_factory=list)


@dataclass(frozen=True)
class EventPage:
    """One page of events; ``next_cursor`` is ``None`` on the last page."""

    items: list[OutboxEvent]
    next_cursor: int | None


@dataclass(frozen=True)
class OutboxStats:
    """Counts over the undone outbox events. The four states are disjoint:
    ``waiting`` (never handed to the queue), ``in_flight`` (handed over, no failure yet),
    ``retrying`` (failed at least once, still pending) and ``dead``."""

    waiting: int
    in_flight: int
    retrying: int
    dead: int
    oldest_pending_at: datetime | None
    last_applied_at: datetime | None

    @property
    def pending(self) -> int:
        return self.waiting + self.in_flight + self.retrying


@dataclass(frozen=True)
class WorkerHealth:
    """Whether replication workers answered a ping; ``reachable`` is ``None`` when the
    broker cannot tell (e.g. a transport without broadcast)."""

    reachable: bool | None
    workers: int
    detail: str = ""


@dataclass(frozen=True)
class StoreCount:
    """How many live Tareas a store holds, or why it could not say."""

    store: str
    tareas: int | None
    error: str | None = None


@dataclass(frozen=True)
class ReplicationStatus:
    """The answer to "how far behind is MongoDB, and is anything stuck?"."""

    at: datetime
    outbox: OutboxStats
    lag_seconds: float
    workers: WorkerHealth
    stores: list[StoreCount]


class ConfirmationRequiredError(DualWriteError):
    """A destructive action was asked for without explicit confirmation."""

    def __init__(self, action: str) -> None:
        super().__init__(f"{action} deletes events for good; confirm it explicitly")
        self.action = action
