"""FastAPI dependencies: the container of this app."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi import Request

from infrastructure.container import Container

_build_lock = threading.Lock()


def get_app_container(request: Request) -> Container:
    """The app's container, built by its factory on the first request and kept."""
    state = request.app.state
    container: Container | None = getattr(state, "container", None)
    if container is None:
        with _build_lock:
            container = getattr(state, "container", None)
            if container is None:
                factory: Callable[[], Container] = state.container_factory
                container = state.container = factory()
    return container
