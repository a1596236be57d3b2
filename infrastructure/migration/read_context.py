"""Per-request read metadata: what the client asked for and where the read came from.

The HTTP layer opens a :class:`ReadContext` for each request; the staged repository
fills it in. The context object is shared by reference, so it survives the copy of
context variables made when a sync route runs in a worker thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from core.domain.models.migration_stage import Store


@dataclass
class ReadContext:
    """``min_version`` comes from the client; the rest is filled by the read."""

    min_version: int | None = None
    source: Store | None = None
    fallback: bool = False
    authoritative_for_min_version: bool = False

    def answered_by(self, source: Store, *, fallback: bool = False, min_version: bool = False) -> None:
        self.source = source
        self.fallback = fallback
        self.authoritative_for_min_version = min_version

    def header_value(self) -> str | None:
        """``sql`` / ``mongo``, followed by why when it was not the usual read store."""
        if self.source is None:
            return None
        parts = [self.source.value]
        if self.fallback:
            parts.append("fallback")
        if self.authoritative_for_min_version:
            parts.append("min_version")
        return ", ".join(parts)


_current: ContextVar[ReadContext | None] = ContextVar("dualwrite_read_context", default=None)


def current_read_context() -> ReadContext | None:
    return _current.get()


@contextlib.contextmanager
def read_context(min_version: int | None = None) -> Iterator[ReadContext]:
    """Open a read context for the duration of one request (or one block of code)."""
    context = ReadContext(min_version=min_version)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
