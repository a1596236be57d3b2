"""The FastAPI application: ``uvicorn api.main:app``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from api.errors import install_error_handlers
from api.routes import admin, health, metrics, migration, tareas
from infrastructure.container import Container, get_container

MAX_BODY_BYTES = 64 * 1024


class BodySizeLimit(BaseHTTPMiddleware):
    """Refuse oversized bodies with 413 before they are read."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse(
                status_code=413,
                content={
                    "error": "payload_too_large",
                    "detail": f"body must be at most {MAX_BODY_BYTES} bytes",
                },
            )
        return await call_next(request)


def create_app(container_factory: Callable[[], Container] | None = None) -> FastAPI:
    """Build the HTTP app. The container is resolved per request (and cached by the
    factory), so importing this module connects to nothing."""
    app = FastAPI(
        title="dualwrite",
        summary="Tarea CRUD with SQL and MongoDB dual write for no-downtime migrations",
        version="0.1.0",
    )
    app.state.container_factory = container_factory or get_container
    app.add_middleware(BodySizeLimit)
    install_error_handlers(app)
    app.include_router(tareas.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    admin.install(app)
    migration.install(app)
    return app


app = create_app()

__all__ = ["app", "create_app"]
