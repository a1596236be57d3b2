"""FastAPI dependencies: the container of this app."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi import Request
from fastapi.exceptions import RequestValidationError

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


def known_query_params(*names: str) -> Callable[[Request], None]:
    """A dependency refusing query parameters the route does not define, so that a
    filter such as ``estado[$ne]=x`` is an error instead of being silently ignored."""
    allowed = frozenset(names)

    def refuse_unknown(request: Request) -> None:
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise RequestValidationError(
                [
                    {"type": "extra_forbidden", "loc": ("query", name), "msg": "Unknown query parameter"}
                    for name in unknown
                ]
            )

    return refuse_unknown
