"""What "nothing acknowledged is lost" means, checked against the real stores.

:func:`wait_until_drained` waits (bounded) for the outbox to have nothing pending;
:func:`consistency_problems` then lists every way the stores disagree with each other,
with the outbox, or with what the load generator saw acknowledged. An empty list is the
pass condition.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pymongo import MongoClient
from sqlalchemy.engine import Engine

from core.domain.models.tarea import Tarea
from infrastructure.mapping.tarea_mapping import tarea_from_document, tarea_from_record
from infrastructure.mongo.client import MongoDocument
from infrastructure.mongo.repository.tarea_repository import COLLECTION
from infrastructure.sqlalchemy.schema import outbox, tareas
from tests.support.load import LoadReport


@dataclass(frozen=True)
class Snapshot:
    """Both stores and the outbox at one moment."""

    sql: dict[str, Tarea]
    mongo_live: dict[str, Tarea]
    mongo_tombstones: dict[str, int]  # id -> the delete's version
    events: list[dict[str, Any]]  # outbox rows without payload

    def titulos_in_sql(self) -> set[str]:
        return {t.titulo for t in self.sql.values()}


def outbox_status_counts(engine: Engine) -> dict[str, int]:
    query = sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
    with engine.connect() as conn:
        return {str(status): int(n) for status, n in conn.execute(query)}


def wait_until_drained(engine: Engine, timeout: float) -> float:
    """Wait until no outbox event is pending; return the seconds it took.

    Fails at once if an event went to the dead letters: in these scenarios every fault
    heals, so a dead event would be a lost write.
    """
    started = time.monotonic()
    while True:
        counts = outbox_status_counts(engine)
        if counts.get("dead"):
            raise AssertionError(f"events moved to the dead letters: {counts}")
        if not counts.get("pending"):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"outbox not drained after {timeout:.0f}s: {counts}")
        time.sleep(0.25)


def take_snapshot(engine: Engine, client: MongoClient[MongoDocument], database: str) -> Snapshot:
    with engine.connect() as conn:
        sql = {row["id"]: tarea_from_record(row) for row in conn.execute(sa.select(tareas)).mappings()}
        columns = [c for c in outbox.c if c.name != "payload"]
        events = [dict(row) for row in conn.execute(sa.select(*columns).order_by(outbox.c.id)).mappings()]
    live: dict[str, Tarea] = {}
    tombstones: dict[str, int] = {}
    for document in client[database][COLLECTION].find({}):
        if document.get("deleted"):
            tombstones[str(document["_id"])] = int(document["version"])
        else:
            live[str(document["_id"])] = tarea_from_document(document)
    return Snapshot(sql=sql, mongo_live=live, mongo_tombstones=tombstones, events=events)


def max_replication_lag(snapshot: Snapshot) -> float:
    """Longest time from an event's commit in SQL to its application in MongoDB."""
    lags = [
        (e["applied_at"] - e["created_at"]).total_seconds()
        for e in snapshot.events
        if e["applied_at"] is not None
    ]
    return max(lags, default=0.0)


def consistency_problems(snapshot: Snapshot, report: LoadReport) -> list[str]:
    """Every disagreement between SQL, MongoDB, the outbox and the acknowledged writes."""
    return [
        *_stores_differ(snapshot),
        *_acknowledged_writes_missing(snapshot, report),
        *_unexplained_rows(snapshot, report),
        *_outbox_unpaired(snapshot),
    ]


def _stores_differ(snapshot: Snapshot) -> Iterable[str]:
    """SQL and MongoDB hold the same live Tareas, field by field."""
    for tarea_id in sorted(snapshot.sql.keys() | snapshot.mongo_live.keys()):
        in_sql, in_mongo = snapshot.sql.get(tarea_id), snapshot.mongo_live.get(tarea_id)
        if in_mongo is None:
            tombstone = snapshot.mongo_tombstones.get(tarea_id)
            version = in_sql.version if in_sql else None
            yield f"{tarea_id}: in SQL (v{version}) but not live in MongoDB (tombstone {tombstone})"
        elif in_sql is None:
            yield f"{tarea_id}: live in MongoDB (v{in_mongo.version}) but not in SQL"
        elif in_sql != in_mongo:
            yield f"{tarea_id}: differs: SQL {in_sql} != MongoDB {in_mongo}"


def _acknowledged_writes_missing(snapshot: Snapshot, report: LoadReport) -> Iterable[str]:
    """Each acknowledged write is stored, at its version (or newer when in doubt)."""
    for tarea_id, expected in report.expected.items():
        stored = snapshot.sql.get(tarea_id)
        if expected.deleted:
            if stored is not None:
                yield f"{tarea_id}: acknowledged delete, but still in SQL at v{stored.version}"
            continue
        if stored is None:
            if not expected.in_doubt:
                yield f"{tarea_id}: acknowledged v{expected.version} is missing from SQL"
            continue
        if stored.version < expected.version:
            yield f"{tarea_id}: SQL has v{stored.version}, older than acknowledged v{expected.version}"
        elif not expected.in_doubt:
            seen = (stored.version, stored.titulo, stored.descripcion, stored.estado.value)
            acked = (expected.version, expected.titulo, expected.descripcion, expected.estado)
            if seen != acked:
                yield f"{tarea_id}: SQL holds {seen}, the client was acknowledged {acked}"


def _unexplained_rows(snapshot: Snapshot, report: LoadReport) -> Iterable[str]:
    """Every stored Tarea comes from an acknowledged create or a create that failed in
    doubt (its commit may have happened before the connection broke)."""
    failed_creates = {f.titulo for f in report.failed if f.op == "POST"}
    for tarea_id, tarea in snapshot.sql.items():
        if tarea_id not in report.expected and tarea.titulo not in failed_creates:
            yield f"{tarea_id}: stored Tarea {tarea.titulo!r} matches no request of the load"


def _outbox_unpaired(snapshot: Snapshot) -> Iterable[str]:
    """The outbox row exists if and only if its change committed."""
    upserts = {(e["tarea_id"], e["version"]) for e in snapshot.events if e["operation"] == "upsert"}
    deletes: dict[str, int] = {}
    for e in snapshot.events:
        if e["operation"] == "delete":
            deletes[e["tarea_id"]] = max(deletes.get(e["tarea_id"], 0), e["version"])
    for tarea_id, tarea in snapshot.sql.items():
        if (tarea_id, tarea.version) not in upserts:
            yield f"{tarea_id}: v{tarea.version} is in SQL without its outbox event"
        if deletes.get(tarea_id, 0) > tarea.version:
            yield f"{tarea_id}: a delete event exists but the Tarea is still in SQL"
    for tarea_id, version in upserts:
        current = snapshot.sql.get(tarea_id)
        newer_exists = current is not None and current.version >= version
        if not newer_exists and deletes.get(tarea_id, 0) <= version:
            yield f"{tarea_id}: outbox event v{version} without its Tarea in SQL"
