"""SQL as the replica, while MongoDB is authoritative (the ``mongo_primary`` stage).

Replication in this direction is state-based: an event only says *which* Tarea
changed. The worker reads the Tarea's current document from MongoDB (live or
tombstone) and applies that to SQL, guarded by ``version``. So an event whose MongoDB
write failed applies nothing new, events may arrive in any order or twice, and only
the newest acknowledged state ever lands in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from pymongo.collection import Collection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from core.domain.models.replication import ApplyResult, Operation, ReplicationEvent
from core.domain.models.tarea import Tarea, utc_now
from core.domain.ports.replication import ReplicaWriter
from infrastructure.mapping.tarea_mapping import tarea_from_document, tarea_to_record
from infrastructure.migration.tables import tarea_tombstones
from infrastructure.mongo.client import MongoDocument, translate_mongo_errors
from infrastructure.sqlalchemy.engine import translate_sql_errors
from infrastructure.sqlalchemy.schema import tareas


@dataclass(frozen=True)
class Deleted:
    """A Tarea deleted in the authoritative store, at ``version``."""

    tarea_id: UUID
    version: int


AuthoritativeState = Tarea | Deleted


class MongoStateReader:
    """Reads the current state of Tareas in MongoDB, tombstones included."""

    def __init__(self, collection: Collection[MongoDocument]) -> None:
        self._collection = collection

    def states(self, tarea_ids: Sequence[UUID]) -> list[AuthoritativeState]:
        with translate_mongo_errors():
            documents = list(self._collection.find({"_id": {"$in": [str(i) for i in tarea_ids]}}))
        return [
            Deleted(UUID(str(d["_id"])), int(d["version"])) if d.get("deleted") else tarea_from_document(d)
            for d in documents
        ]


class SqlReplicaWriter(ReplicaWriter):
    """Applies MongoDB's current state to SQL with version-guarded upserts and deletes.

    A deleted Tarea leaves a row in ``tarea_tombstones`` with the delete's version, and
    an upsert at or below a tombstone's version is stale: a late update can never bring
    a deleted Tarea back. The ``tareas`` table itself holds only live Tareas, so reads
    need no filter.
    """

    def __init__(self, engine: Engine, authoritative: MongoStateReader) -> None:
        self._engine = engine
        self._authoritative = authoritative

    def apply(self, events: Sequence[ReplicationEvent]) -> ApplyResult:
        ids = list(dict.fromkeys(event.tarea_id for event in events))
        if not ids:
            return ApplyResult(applied=0, stale=0)
        states = {self._id_of(state): state for state in self._authoritative.states(ids)}
        # A delete of a Tarea MongoDB has no trace of (not even a tombstone) is applied
        # as it is: only a sweep of Tareas absent from MongoDB records such an event.
        for event in events:
            if event.operation is Operation.DELETE and event.tarea_id not in states:
                states[event.tarea_id] = Deleted(event.tarea_id, event.version)
        applied = 0
        with translate_sql_errors(), self._engine.begin() as conn:
            for state in states.values():
                if self._apply_one(conn, state):
                    applied += 1
        # Events whose Tarea never reached MongoDB (a failed write) apply nothing.
        return ApplyResult(applied=applied, stale=max(0, len(events) - applied))

    @staticmethod
    def _id_of(state: AuthoritativeState) -> UUID:
        return state.tarea_id if isinstance(state, Deleted) else state.id

    def _apply_one(self, conn: Connection, state: AuthoritativeState) -> bool:
        if isinstance(state, Deleted):
            return self._delete(conn, state)
        return self._upsert(conn, state)

    @staticmethod
    def _upsert(conn: Connection, tarea: Tarea) -> bool:
        tombstone = conn.execute(
            sa.select(tarea_tombstones.c.version).where(tarea_tombstones.c.id == str(tarea.id))
        ).scalar_one_or_none()
        if tombstone is not None and tombstone >= tarea.version:
            return False
        record = tarea_to_record(tarea)
        values = {k: v for k, v in record.items() if k != "id"}
        update = tareas.update().where(tareas.c.id == record["id"], tareas.c.version < tarea.version)
        if conn.execute(update.values(values)).rowcount == 1:
            return True
        exists = conn.execute(sa.select(tareas.c.version).where(tareas.c.id == record["id"])).first()
        if exists is not None:
            return False  # SQL already holds this version or a newer one
        try:
            with conn.begin_nested():
                conn.execute(tareas.insert().values(record))
            return True
        except IntegrityError:  # a concurrent worker inserted it: keep the newer one
            return bool(conn.execute(update.values(values)).rowcount == 1)

    @staticmethod
    def _delete(conn: Connection, deleted: Deleted) -> bool:
        conn.execute(
            tareas.delete().where(tareas.c.id == str(deleted.tarea_id), tareas.c.version < deleted.version)
        )
        values: dict[str, Any] = {
            "id": str(deleted.tarea_id),
            "version": deleted.version,
            "deleted_at": utc_now(),
        }
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(tarea_tombstones).values(values)
        upsert = insert.on_conflict_do_update(
            index_elements=[tarea_tombstones.c.id],
            set_={"version": insert.excluded.version, "deleted_at": insert.excluded.deleted_at},
            where=tarea_tombstones.c.version < insert.excluded.version,
        )
        # RETURNING, not rowcount: drivers disagree on rowcount for INSERT ... ON CONFLICT.
        return conn.execute(upsert.returning(tarea_tombstones.c.id)).first() is not None
