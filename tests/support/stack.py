"""A whole replication stack for integration tests, every part a real process.

``ReplicationStack`` owns a fresh PostgreSQL database (or a given SQLite file), a
private ``redis-server``, a fresh database on a MongoDB-compatible server, a real
``celery -A workers.app worker`` process, and the API-side container built with
``bootstrap(Settings(...))``. The worker reads the same settings from its environment,
so both sides are configured from one dict.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.main import create_app
from core.domain.models.replication import EventStatus
from core.domain.models.tarea import Tarea
from infrastructure.container import Container, bootstrap
from infrastructure.mapping.tarea_mapping import FIELDS, tarea_from_document, tarea_from_record
from infrastructure.messaging.relay_loop import run_relay
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.schema import outbox, outbox_attempts, tareas
from tests.support.services import CeleryWorker, MongoServer, PostgresDatabase, RedisServer, wait_for

# Settings read by the worker from unprefixed variables too; both spellings are set so a
# stray variable in the test process environment can never win.
UNPREFIXED = {
    "orm": "ORM",
    "database_url": "DATABASE_URL",
    "mongo_url": "MONGO_URL",
    "broker_url": "BROKER_URL",
}


def settings_env(values: dict[str, Any]) -> dict[str, str]:
    """The environment that makes ``Settings()`` in another process equal ``Settings(**values)``."""
    env = {f"DUALWRITE_{name.upper()}": str(value) for name, value in values.items()}
    env.update({UNPREFIXED[name]: str(value) for name, value in values.items() if name in UNPREFIXED})
    return env


class ReplicationStack:
    """API side (``container``, ``client()``) plus a worker, wired through a private Redis."""

    def __init__(
        self,
        workdir: Path,
        mongo: MongoServer,
        *,
        database_url: str | None = None,
        worker_concurrency: int = 2,
        **overrides: Any,
    ) -> None:
        self.workdir = workdir
        self.mongo = mongo
        self.pg = PostgresDatabase() if database_url is None else None
        self.redis = RedisServer(workdir / "redis")
        tag = uuid.uuid4().hex[:10]
        self.values: dict[str, Any] = {
            "orm": "dual",
            "data_dir": str(workdir / "data"),
            "database_url": database_url or (self.pg.url if self.pg else ""),
            "mongo_url": mongo.url,
            "mongo_db": f"stack_{tag}",
            "broker_url": self.redis.url,
            "replication_queue": f"dualwrite.test.{tag}",
            # Fail fast against a stopped server so retry scenarios stay short.
            "mongo_timeout_ms": 1000,
            "log_level": "INFO",
            **overrides,
        }
        self.env = settings_env(self.values)
        self.settings = Settings(**self.values)
        self.container: Container = bootstrap(self.settings)
        self.worker = CeleryWorker(self.env, workdir / "worker.log", concurrency=worker_concurrency)

    # -- life cycle --------------------------------------------------------------------
    def start(self, *, with_worker: bool = True) -> ReplicationStack:
        self.redis.start()
        _ = self.container.engine  # migrate before the worker races to do it
        if with_worker:
            self.worker.start()
        return self

    def stop(self) -> None:
        # The test is over: a SIGKILL saves the seconds of a warm shutdown, and the
        # private Redis holding any unacknowledged message goes away with it.
        self.worker.kill()
        try:
            client = self.container.mongo_repository.collection.database.client
            if self.mongo.process is not None:
                client.drop_database(self.settings.mongo_db)
            client.close()
        finally:
            self.container.close()
            self.redis.stop()
            if self.pg is not None:
                self.pg.drop()

    def client(self) -> TestClient:
        """An HTTP client for the API built on this stack's container."""
        return TestClient(create_app(lambda: self.container))

    def relay_once(self) -> int:
        """One relay round, exactly as ``dualwrite relay --once`` runs it."""
        return run_relay(self.container, threading.Event(), once=True)

    # -- inspection --------------------------------------------------------------------
    @property
    def engine(self) -> sa.Engine:
        return self.container.engine

    def outbox_rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(outbox).order_by(outbox.c.id)).mappings().all()
        return [dict(row) for row in rows]

    def attempt_rows(self) -> list[dict[str, Any]]:
        query = sa.select(outbox_attempts).order_by(outbox_attempts.c.event_id, outbox_attempts.c.attempt)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings().all()]

    def count_status(self, status: EventStatus) -> int:
        query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == status.value)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def wait_drained(self, timeout: float = 60) -> None:
        """Wait until no outbox event is pending (all applied or dead)."""
        try:
            wait_for(lambda: self.count_status(EventStatus.PENDING) == 0, timeout, 0.2, "outbox to drain")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; worker log tail:\n{self.worker.tail()}") from exc

    def sql_tareas(self) -> dict[UUID, Tarea]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*(tareas.c[name] for name in FIELDS))).mappings().all()
        return {tarea.id: tarea for tarea in map(tarea_from_record, rows)}

    def mongo_documents(self) -> dict[UUID, dict[str, Any]]:
        """Every document of the replica, tombstones included."""
        collection = self.container.mongo_repository.collection
        return {UUID(doc["_id"]): doc for doc in collection.find({})}


def assert_replica_matches(sql: dict[UUID, Tarea], documents: dict[UUID, dict[str, Any]]) -> None:
    """Every SQL row has an identical live document, and every other document is a
    tombstone (the Tarea was deleted in SQL)."""
    mismatched = []
    for tarea_id, tarea in sql.items():
        document = documents.get(tarea_id)
        if document is None or document.get("deleted") or tarea_from_document(document) != tarea:
            mismatched.append((tarea, document))
    assert not mismatched, f"{len(mismatched)} Tareas differ, first: {mismatched[0]}"
    live_without_row = [i for i, doc in documents.items() if i not in sql and not doc.get("deleted")]
    assert not live_without_row, f"live in Mongo but absent from SQL: {live_without_row[:5]}"


def timed(func: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Call ``func`` and return ``(result, seconds)``."""
    started = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - started
