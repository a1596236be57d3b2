"""Helpers for the operator-tooling tests: a container on real stores, drift injection."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from core.domain.models.replication import ReplicationEvent
from core.domain.models.tarea import Tarea
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.operations_schema import backfill_checkpoints, reconcile_runs

ADMIN_TOKEN = "op-token-7f3a9c1e"
UNPREFIXED = {
    "orm": "ORM",
    "database_url": "DATABASE_URL",
    "mongo_url": "MONGO_URL",
    "broker_url": "BROKER_URL",
}


def ops_settings(database_url: str, mongo_url: str, broker_url: str, **overrides: Any) -> dict[str, Any]:
    """Settings values of a dual deployment on the given stores, with private names."""
    tag = uuid.uuid4().hex[:10]
    return {
        "orm": "dual",
        "database_url": database_url,
        "mongo_url": mongo_url,
        "mongo_db": f"ops_{tag}",
        "broker_url": broker_url,
        "replication_queue": f"dualwrite.ops.{tag}",
        "admin_token": ADMIN_TOKEN,
        "mongo_timeout_ms": 2000,
        "publish_timeout_seconds": 2.0,
        **overrides,
    }


def settings_env(values: dict[str, Any]) -> dict[str, str]:
    """Environment that makes ``Settings()`` in another process equal ``Settings(**values)``."""
    env = {f"DUALWRITE_{name.upper()}": str(value) for name, value in values.items()}
    env.update({UNPREFIXED[name]: str(value) for name, value in values.items() if name in UNPREFIXED})
    return env


def ops_container(values: dict[str, Any]) -> Container:
    container = bootstrap(Settings(**values))
    with container.engine.begin() as conn:
        conn.execute(reconcile_runs.delete())
        conn.execute(backfill_checkpoints.delete())
    return container


def drop_mongo(container: Container) -> None:
    collection = container.mongo_repository.collection
    collection.database.client.drop_database(collection.database.name)
    collection.database.client.close()


def record_dead(container: Container, error: BaseException, count: int = 1) -> list[int]:
    """Tareas saved in SQL whose events failed for good with ``error``."""
    ids = []
    for n in range(count):
        _, event = container.sql_repository.save_and_record(Tarea.crear(f"dead {n}"))
        ids.append(event.event_id)
    container.outbox.record_failure(ids, error, dead=True)
    return ids


def record_pending(container: Container, tarea: Tarea, **kwargs: Any) -> int:
    (event,) = container.outbox.record([ReplicationEvent.upsert(tarea, **kwargs)])
    return event.event_id


def count_rows(container: Container, table: sa.Table) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
