"""Admin API (``/admin``): replication status and dead-letter operations.

Bearer-token protected (see ``api.security``). Routes only translate HTTP to use-case
calls; every filter is validated twice: by FastAPI's types here and by ``EventQuery``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from api.dependencies import get_app_container
from api.errors import error_response
from api.security import install_auth_error_handler, require_admin
from core.domain.models.operations import (
    ERROR_TYPE_PATTERN,
    MAX_EVENT_PAGE,
    ConfirmationRequiredError,
    EventNotFoundError,
    EventQuery,
    EventState,
    EventStateError,
    InvalidQueryError,
)
from core.domain.models.replication import Operation
from infrastructure.container import Container
from infrastructure.reporting.operations_json import (
    event_detail_json,
    event_page_json,
    status_json,
)

FILTER_PARAMS = frozenset({"status", "operation", "error_type", "older_than_seconds", "limit", "cursor"})
MAX_EVENT_ID = 2**63 - 1


def reject_unknown_params(request: Request) -> None:
    """Unknown (``status[$ne]=dead``, typos) or repeated query parameters are errors,
    not silently ignored or overridden."""
    allowed = FILTER_PARAMS | {"confirm"}
    unknown = sorted(set(request.query_params.keys()) - allowed)
    if unknown:
        raise InvalidQueryError(unknown[0], f"unknown query parameter; allowed: {', '.join(sorted(allowed))}")
    repeated = sorted(k for k in set(request.query_params.keys()) if len(request.query_params.getlist(k)) > 1)
    if repeated:
        raise InvalidQueryError(repeated[0], "given more than once")


router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(require_admin), Depends(reject_unknown_params)],
)
ContainerDep = Annotated[Container, Depends(get_app_container)]
EventId = Annotated[int, Path(ge=1, le=MAX_EVENT_ID)]


class ConfirmBody(BaseModel):
    """Optional body of destructive calls: ``{"confirm": true}``."""

    model_config = ConfigDict(extra="forbid")
    confirm: bool = False


def event_filters(
    status: EventState | None = None,
    operation: Operation | None = None,
    error_type: Annotated[str | None, Query(pattern=ERROR_TYPE_PATTERN.pattern)] = None,
    older_than_seconds: Annotated[float | None, Query(ge=0, le=10 * 365 * 86400)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENT_PAGE)] = 50,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_EVENT_ID)] = None,
) -> EventQuery:
    return EventQuery(
        state=status,
        operation=operation,
        error_type=error_type,
        older_than_seconds=older_than_seconds,
        limit=limit,
        cursor=cursor,
    )


Filters = Annotated[EventQuery, Depends(event_filters)]
Confirm = Annotated[bool, Query(description='Must be true (or send {"confirm": true})')]


def _confirmed(query_flag: bool, body: ConfirmBody | None) -> bool:
    return query_flag or (body is not None and body.confirm)


@router.get("/replication/status")
def replication_status(container: ContainerDep) -> dict[str, Any]:
    """Backlog, lag, dead letters, last apply, worker reachability and store counts."""
    return status_json(container.estado_replicacion().execute())


@router.get("/events")
def list_events(container: ContainerDep, filters: Filters) -> dict[str, Any]:
    """Undone events (pending, retrying, dead) by filter; follow ``next_cursor`` for more."""
    return event_page_json(container.listar_eventos().execute(filters))


@router.post("/events/replay")
def replay_events(container: ContainerDep, filters: Filters) -> dict[str, Any]:
    """Redrive every dead-lettered event matching the filters (``status`` may only be dead)."""
    ids = container.reintentar_eventos().execute(filters)
    return {"replayed": len(ids), "event_ids": ids}


@router.post("/events/purge")
def purge_events(
    container: ContainerDep,
    filters: Filters,
    confirm: Confirm = False,
    body: Annotated[ConfirmBody | None, Body()] = None,
) -> dict[str, Any]:
    """Delete every dead-lettered event matching the filters; needs confirmation."""
    ids = container.purgar_eventos().execute(filters, confirm=_confirmed(confirm, body))
    return {"purged": len(ids), "event_ids": ids}


@router.get("/events/{event_id}")
def show_event(event_id: EventId, container: ContainerDep) -> dict[str, Any]:
    """One event with its payload and every failed attempt."""
    return event_detail_json(container.obtener_evento().execute(event_id))


@router.post("/events/{event_id}/replay")
def replay_event(event_id: EventId, container: ContainerDep) -> dict[str, Any]:
    """Redrive one dead-lettered event (409 if it is not dead)."""
    ids = container.reintentar_evento().execute(event_id)
    return {"replayed": len(ids), "event_ids": ids}


@router.delete("/events/{event_id}")
def delete_event(
    event_id: EventId,
    container: ContainerDep,
    confirm: Confirm = False,
    body: Annotated[ConfirmBody | None, Body()] = None,
) -> dict[str, Any]:
    """Delete one dead-lettered event; needs confirmation (409 if it is not dead)."""
    ids = container.purgar_evento().execute(event_id, confirm=_confirmed(confirm, body))
    return {"purged": len(ids), "event_ids": ids}


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidQueryError)
    return error_response(422, "invalid_query", [{"loc": ["query", exc.field], "msg": exc.message}])


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return error_response(404, "not_found", str(exc))


async def _wrong_state(_: Request, exc: Exception) -> JSONResponse:
    return error_response(409, "wrong_state", str(exc))


async def _unconfirmed(_: Request, exc: Exception) -> JSONResponse:
    return error_response(
        400, "confirmation_required", f'{exc}: add ?confirm=true or send {{"confirm": true}}'
    )


def install(app: FastAPI) -> None:
    """Mount the admin routes and the answers for their errors."""
    install_auth_error_handler(app)
    app.add_exception_handler(InvalidQueryError, _invalid)
    app.add_exception_handler(EventNotFoundError, _not_found)
    app.add_exception_handler(EventStateError, _wrong_state)
    app.add_exception_handler(ConfirmationRequiredError, _unconfirmed)
    app.include_router(router)
