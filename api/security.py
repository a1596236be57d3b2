"""Bearer-token guard of the admin API (``DUALWRITE_ADMIN_TOKEN``)."""

from __future__ import annotations

import hmac
import logging

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from api.dependencies import get_app_container
from api.errors import error_response
from infrastructure.container import Container

logger = logging.getLogger(__name__)

DISABLED_DETAIL = "admin API disabled: set DUALWRITE_ADMIN_TOKEN"


class AdminAuthError(Exception):
    """The request may not use the admin API; carries the HTTP answer."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


def _presented_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def require_admin(request: Request, container: Container = Depends(get_app_container)) -> None:
    """401 without a bearer token, 403 with a wrong one, 503 when none is configured.

    The comparison takes constant time, and neither token is ever logged or echoed.
    """
    configured = container.settings.admin_token
    expected = configured.get_secret_value() if configured is not None else ""
    if not expected:
        raise AdminAuthError(503, "admin_disabled", DISABLED_DETAIL)
    presented = _presented_token(request)
    if presented is None:
        raise AdminAuthError(401, "unauthorized", "send 'Authorization: Bearer <admin token>'")
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        logger.warning("Admin API refused a wrong token", extra={"path": request.url.path})
        raise AdminAuthError(403, "forbidden", "the admin token is not valid")


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AdminAuthError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.error, exc.detail, headers)


def install_auth_error_handler(app: FastAPI) -> None:
    app.add_exception_handler(AdminAuthError, _refused)
