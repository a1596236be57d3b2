"""Engine creation and schema migration for SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from core.domain.errors import StoreUnavailableError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_MIGRATION_LOCK_KEY = 0x6475616C  # "dual": advisory lock id for concurrent starts


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API, the worker and the relay (separate processes) read while one
    # writes; busy_timeout makes writers wait instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_sql_engine(url: str) -> Engine:
    """Create an engine with timeouts suited to a service that must fail fast."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        pool_timeout=5,
        connect_args={"connect_timeout": 3},
    )


@contextlib.contextmanager
def translate_sql_errors() -> Iterator[None]:
    """Turn connection-level driver errors into :class:`StoreUnavailableError`."""
    try:
        yield
    except OperationalError as exc:
        raise StoreUnavailableError("sql", str(exc.orig).strip().splitlines()[0]) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StoreUnavailableError("sql", "connection lost") from exc
        raise


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision (safe when processes race)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with translate_sql_errors(), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        # "heads": revisions written in parallel (independent branches off one parent)
        # all apply, instead of failing with "multiple heads".
        command.upgrade(config, "heads")
