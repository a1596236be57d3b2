"""Maps domain errors to HTTP answers; no traceback ever reaches a client."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from core.domain.errors import (
    ConflictoDeVersionError,
    DualWriteFailedError,
    StoreUnavailableError,
    TareaInvalidaError,
    TareaNoEncontradaError,
)

logger = logging.getLogger(__name__)


def error_response(
    status: int, error: str, detail: object, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one shape of every error answer: ``{"error": ..., "detail": ...}``."""
    return JSONResponse(status_code=status, content={"error": error, "detail": detail}, headers=headers)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TareaInvalidaError)
    return error_response(422, "invalid_tarea", [{"loc": ["body", exc.field], "msg": exc.message}])


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return error_response(404, "not_found", str(exc))


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConflictoDeVersionError)
    return error_response(409, "version_conflict", str(exc))


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    logger.warning("Store unavailable: %s", exc)
    response = error_response(503, "store_unavailable", str(exc))
    response.headers["Retry-After"] = "1"
    return response


async def _request_invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The offending input is not echoed back: it may be large, and the client has it.
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return error_response(422, "invalid_request", detail)


HTTP_ERROR_NAMES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    """Framework-raised errors (unknown route, wrong method, unreadable body) keep the
    same ``{"error", "detail"}`` shape as ours."""
    assert isinstance(exc, HTTPException)
    error = "http_error" if exc.status_code >= 500 else "bad_request"
    response = error_response(exc.status_code, HTTP_ERROR_NAMES.get(exc.status_code, error), exc.detail)
    response.headers.update(exc.headers or {})
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("Unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "unexpected error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(TareaInvalidaError, _invalid)
    app.add_exception_handler(TareaNoEncontradaError, _not_found)
    app.add_exception_handler(ConflictoDeVersionError, _conflict)
    app.add_exception_handler(StoreUnavailableError, _unavailable)
    app.add_exception_handler(DualWriteFailedError, _unavailable)
    app.add_exception_handler(Exception, _unexpected)
