"""The FastAPI application: ``uvicorn api.main:app``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from api.body_limit import MAX_BODY_BYTES, BodySizeLimit
from api.errors import install_error_handlers
from api.routes import admin, health, metrics, migration, tareas
from infrastructure.container import Container, get_container


def create_app(container_factory: Callable[[], Container] | None = None) -> FastAPI:
    """Build the HTTP app. The container is built by ``container_factory`` on the first
    request and kept by the app, so importing this module connects to nothing."""
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

__all__ = ["MAX_BODY_BYTES", "app", "create_app"]
