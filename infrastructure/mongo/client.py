"""pymongo client creation and error translation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from core.domain.errors import StoreUnavailableError

MongoDocument = dict[str, Any]


def create_mongo_client(url: str, timeout_ms: int = 3000) -> MongoClient[MongoDocument]:
    """A client that fails within ``timeout_ms`` when the server is away."""
    return MongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 5, 10000),
        retryWrites=True,
    )


@contextlib.contextmanager
def translate_mongo_errors() -> Iterator[None]:
    """Turn driver errors into :class:`StoreUnavailableError`."""
    try:
        yield
    except PyMongoError as exc:
        detail = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise StoreUnavailableError("mongo", detail) from exc
