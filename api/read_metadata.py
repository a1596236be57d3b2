"""Read metadata on Tarea reads: where the answer came from and how stale it may be.

* ``X-Read-Source``: ``sql`` or ``mongo``; followed by ``, fallback`` when the other
  store answered because the read store failed, or ``, min_version`` when the
  authoritative store answered because the read store had not reached the version
  the client asked for.
* ``X-Replication-Lag-Seconds``: age of the oldest event not yet applied to the
  replica (0 when none), refreshed about once a second.
* A client asks for read-your-write consistency with ``?min_version=N`` or the
  ``X-Min-Version: N`` header.
"""

from __future__ import annotations

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from api.dependencies import get_app_container
from api.errors import error_response
from infrastructure.migration.read_context import read_context

READ_PATH_PREFIX = "/tareas"
MIN_VERSION_HEADER = "x-min-version"


class InvalidMinVersionError(ValueError):
    """``min_version`` is not a positive integer."""


def requested_min_version(request: Request) -> int | None:
    """The ``min_version`` the client asked for (query wins over header), or ``None``."""
    raw = request.query_params.get("min_version") or request.headers.get(MIN_VERSION_HEADER)
    if raw is None:
        return None
    if not raw.strip().isdigit() or int(raw) < 1:
        raise InvalidMinVersionError(raw)
    return int(raw)


class ReadMetadataMiddleware(BaseHTTPMiddleware):
    """Opens a read context for Tarea reads and turns it into response headers."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method != "GET" or not request.url.path.startswith(READ_PATH_PREFIX):
            return await call_next(request)
        try:
            min_version = requested_min_version(request)
        except InvalidMinVersionError as exc:
            detail = f"min_version must be a positive integer, not {str(exc)!r}"
            return error_response(422, "invalid_min_version", detail)
        with read_context(min_version) as context:
            response = await call_next(request)
        source = context.header_value()
        if source is None:
            return response
        response.headers["X-Read-Source"] = source
        lag = await run_in_threadpool(get_app_container(request).migration.lag.seconds)
        if lag is not None:
            response.headers["X-Replication-Lag-Seconds"] = f"{lag:.3f}"
        return response
