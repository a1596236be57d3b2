"""Shared fixtures: real stores for the contract, integration and e2e suites."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from infrastructure.container import reset_container
from infrastructure.mongo.client import create_mongo_client
from infrastructure.mongo.embedded_server import STATE_FILE, stop_embedded_server
from infrastructure.mongo.repository.tarea_repository import MongoTareaRepository
from infrastructure.sqlalchemy.engine import create_sql_engine, migrate
from infrastructure.sqlalchemy.repository.tarea_repository import SqlAlchemyTareaRepository
from tests.support.services import MongoServer, PostgresDatabase, postgres_available


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test starts from default settings with its own data directory."""
    for name in ("ORM", "DATABASE_URL", "MONGO_URL", "BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DUALWRITE_DATA_DIR", str(tmp_path / "data"))
    reset_container()
    yield
    reset_container()
    # A test that reached the embedded default started a server of its own: stop it.
    for state in tmp_path.rglob(STATE_FILE):
        stop_embedded_server(state.parent)


@pytest.fixture(scope="session", autouse=True)
def _stop_embedded_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session, stop every embedded server a test left running
    (one reached the embedded default through a container the test did not close)."""
    yield
    for state in tmp_path_factory.getbasetemp().rglob(STATE_FILE):
        stop_embedded_server(state.parent)


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """One MongoDB-compatible server for the session (each test uses its own database)."""
    server = MongoServer(tmp_path_factory.mktemp("mongo") / "db").start()
    yield server
    server.stop()


@pytest.fixture
def mongo_db_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def mongo_client(mongo_server: MongoServer) -> Iterator[MongoClient[dict[str, object]]]:
    client = create_mongo_client(mongo_server.url, timeout_ms=3000)
    yield client
    client.close()


@pytest.fixture
def mongo_repo(
    mongo_client: MongoClient[dict[str, object]], mongo_db_name: str
) -> Iterator[MongoTareaRepository]:
    yield MongoTareaRepository(mongo_client, mongo_db_name)
    mongo_client.drop_database(mongo_db_name)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[PostgresDatabase]:
    """A fresh PostgreSQL database for the session, dropped afterwards."""
    if not postgres_available():
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (.ci/run starts it)")
    database = PostgresDatabase()
    yield database
    database.drop()


@pytest.fixture
def pg_engine(pg_database: PostgresDatabase):
    engine = create_sql_engine(pg_database.url)
    migrate(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE tareas, outbox, outbox_attempts RESTART IDENTITY CASCADE")
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path):
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'test.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_repo(sqlite_engine) -> SqlAlchemyTareaRepository:
    return SqlAlchemyTareaRepository(sqlite_engine)


@pytest.fixture
def pg_repo(pg_engine) -> SqlAlchemyTareaRepository:
    return SqlAlchemyTareaRepository(pg_engine)
