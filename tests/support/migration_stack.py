"""A real stack for migration-stage tests: fresh PostgreSQL database, private Redis,
a fresh database on the MongoDB-compatible server, a real Celery worker process, and
the API built on a container with the same settings."""

from __future__ import annotations

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
from infrastructure.mapping.tarea_mapping import tarea_from_document, tarea_from_record
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.schema import outbox, tareas
from tests.support.services import CeleryWorker, MongoServer, PostgresDatabase, RedisServer, wait_for

ADMIN_TOKEN = "stage-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
UNPREFIXED = {
    "orm": "ORM",
    "database_url": "DATABASE_URL",
    "mongo_url": "MONGO_URL",
    "broker_url": "BROKER_URL",
}


def env_for(values: dict[str, Any]) -> dict[str, str]:
    """Environment that makes ``Settings()`` in another process equal ``Settings(**values)``."""
    env = {f"DUALWRITE_{name.upper()}": str(value) for name, value in values.items()}
    env.update({UNPREFIXED[name]: str(value) for name, value in values.items() if name in UNPREFIXED})
    return env


class StagedStack:
    """Starts with no stage set and ``ORM=sqlalchemy``: the ``sql_only`` stage."""

    def __init__(self, workdir: Path, mongo: MongoServer, **overrides: Any) -> None:
        self.pg = PostgresDatabase()
        self.redis = RedisServer(workdir / "redis")
        tag = uuid.uuid4().hex[:10]
        self.values: dict[str, Any] = {
            "orm": "sqlalchemy",
            "data_dir": str(workdir / "data"),
            "database_url": self.pg.url,
            "mongo_url": mongo.url,
            "mongo_db": f"stages_{tag}",
            "broker_url": self.redis.url,
            "replication_queue": f"dualwrite.stages.{tag}",
            "admin_token": ADMIN_TOKEN,
            "shadow_sample_rate": 1.0,
            "stage_cache_seconds": 0.3,
            "retry_backoff_seconds": 1,
            "retry_backoff_max_seconds": 2,
            **overrides,
        }
        self.env = env_for(self.values)
        self.container: Container = bootstrap(Settings(**self.values))
        self.worker = CeleryWorker(self.env, workdir / "worker.log", concurrency=2)

    def start(self) -> StagedStack:
        self.redis.start()
        _ = self.container.engine  # migrate before the worker races to do it
        self.worker.start()
        return self

    def stop(self) -> None:
        try:
            self.worker.stop()
            client = self.container.mongo_repository.collection.database.client
            client.drop_database(self.values["mongo_db"])
        finally:
            self.container.close()
            self.redis.stop()
            self.pg.drop()

    def client(self) -> TestClient:
        return TestClient(create_app(lambda: self.container))

    # -- inspection --------------------------------------------------------------------
    def pending(self) -> int:
        query = (
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == EventStatus.PENDING.value)
        )
        with self.container.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def wait_drained(self, timeout: float = 60) -> None:
        try:
            wait_for(lambda: self.pending() == 0, timeout, 0.1, "outbox to drain")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; worker log:\n{self.worker.tail()}") from exc

    def sql_tareas(self) -> dict[UUID, Tarea]:
        with self.container.engine.connect() as conn:
            rows = conn.execute(sa.select(tareas)).mappings().all()
        return {t.id: t for t in map(tarea_from_record, rows)}

    def mongo_tareas(self) -> dict[UUID, Tarea]:
        """Live documents only (tombstones skipped)."""
        collection = self.container.mongo_repository.collection
        return {t.id: t for t in map(tarea_from_document, collection.find({"deleted": {"$ne": True}}))}
