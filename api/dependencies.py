"""FastAPI dependencies: the container of this app."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from infrastructure.container import Container


def get_app_container(request: Request) -> Container:
    factory: Callable[[], Container] = request.app.state.container_factory
    return factory()
