"""pymongo adapter of the Tarea repository; also the replica that workers write."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from pymongo import ASCENDING, InsertOne, MongoClient, ReplaceOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from core.domain.errors import ConflictoDeVersionError
from core.domain.models.replication import ApplyResult, Operation, ReplicationEvent
from core.domain.models.tarea import EstadoTarea, Tarea, utc_now
from core.domain.ports.replication import ReplicaWriter
from core.domain.ports.tarea_repository import TareaRepository
from infrastructure.mapping.tarea_mapping import tarea_from_document, tarea_to_document
from infrastructure.mongo.client import MongoDocument, create_mongo_client, translate_mongo_errors

logger = logging.getLogger(__name__)

COLLECTION = "tareas"
DUPLICATE_KEY = 11000
INDEX_RETRY_SECONDS = 30.0
COLLECTION_WAIT_SECONDS = 1.0
LIVE: MongoDocument = {"deleted": {"$ne": True}}
WriteOperation = InsertOne[MongoDocument] | ReplaceOne[MongoDocument]


def _default_client() -> tuple[MongoClient[MongoDocument], str]:
    from infrastructure.mongo.embedded_server import ensure_embedded_server
    from infrastructure.settings import Settings

    settings = Settings()
    url = settings.mongo_url or ensure_embedded_server(settings.mongo_data_dir())
    return create_mongo_client(url, settings.mongo_timeout_ms), settings.mongo_db


def tombstone(tarea_id: UUID, version: int) -> MongoDocument:
    """What a deleted Tarea leaves behind: its id and the delete's version, so that a
    late, older update cannot bring it back."""
    return {"_id": str(tarea_id), "deleted": True, "version": version, "deleted_at": utc_now()}


def _newer_than_stored(tarea_id: UUID, version: int) -> MongoDocument:
    """Filter that matches the stored document only when it is older than ``version``.

    With ``upsert=True`` a miss becomes an insert, which fails with a duplicate key when
    a same-or-newer document exists: that is how staleness is detected atomically.
    """
    return {"_id": str(tarea_id), "version": {"$lt": version}}


def _not_newer_than(tarea_id: UUID, version: int) -> MongoDocument:
    """The replica's guard: replace anything up to and including ``version``.

    Events carry the authoritative store's committed state, so for an equal version the
    event wins: a duplicate rewrites identical content, and a document that an
    in-process (threadpool) write left with a version SQL then refused is corrected by
    SQL's own event. Only a strictly newer stored version makes the event stale.
    """
    return {"_id": str(tarea_id), "version": {"$lte": version}}


def replica_operation(event: ReplicationEvent) -> WriteOperation:
    """The write that applies ``event`` to the replica.

    A Tarea's first version is a plain insert: no document can be older than it, and
    an insert skips the lookup an upsert makes (several times faster). If the document
    exists after all (a duplicate delivery, a repair), the replica retries the event as
    its :func:`guarded_operation`.
    """
    if event.operation is Operation.UPSERT and event.tarea is not None and event.version == 1:
        return InsertOne(tarea_to_document(event.tarea))
    return guarded_operation(event)


def guarded_operation(event: ReplicationEvent) -> ReplaceOne[MongoDocument]:
    """A replace guarded by :func:`_not_newer_than`: stale when the stored version is newer."""
    guard = _not_newer_than(event.tarea_id, event.version)
    if event.operation is Operation.DELETE or event.tarea is None:
        return ReplaceOne(guard, tombstone(event.tarea_id, event.version), upsert=True)
    return ReplaceOne(guard, tarea_to_document(event.tarea), upsert=True)


class MongoTareaRepository(TareaRepository, ReplicaWriter):
    """Stores Tareas as MongoDB documents (``_id`` = the Tarea id).

    Deletes leave a tombstone (see :func:`tombstone`); reads skip tombstones. Built with
    no client it uses ``MONGO_URL``, or the embedded server of the data directory.
    """

    def __init__(self, client: MongoClient[MongoDocument] | None = None, database: str | None = None) -> None:
        if client is None:
            client, default_db = _default_client()
            database = database or default_db
        self._client = client
        self._collection: Collection[MongoDocument] = client[database or "dualwrite"][COLLECTION]
        self._indexes_ready = False
        self._indexes_lock = threading.Lock()
        self._indexes_retry_at = 0.0

    @property
    def collection(self) -> Collection[MongoDocument]:
        return self._collection

    def ping(self) -> None:
        with translate_mongo_errors():
            self._client.admin.command("ping")

    def ensure_indexes(self) -> None:
        """Create the collection's indexes now (provisioning: ``dualwrite migrate``);
        raise :class:`StoreUnavailableError` when MongoDB cannot be reached."""
        with self._indexes_lock, translate_mongo_errors():
            self._create_indexes()

    def _create_indexes(self) -> None:
        self._collection.create_index([("created_at", ASCENDING), ("_id", ASCENDING)])
        self._collection.create_index([("estado", ASCENDING), ("created_at", ASCENDING)])
        self._indexes_ready = True

    def _ensure_indexes(self) -> None:
        """Create the indexes lazily, once, so building the repository never needs MongoDB.

        Indexes only make reads fast; no write depends on them. So this never raises, and
        while MongoDB is down one thread tries at a time while the others go on, with a
        pause between failed tries. It only indexes a collection that already exists:
        the embedded server can deadlock when a collection is created by an index build
        (or ``create``) while a write creates it too, and the first write creates it.
        """
        if self._indexes_ready or time.monotonic() < self._indexes_retry_at:
            return
        if not self._indexes_lock.acquire(blocking=False):
            return
        try:
            if self._indexes_ready:
                return
            database = self._collection.database
            if self._collection.name not in database.list_collection_names():
                self._indexes_retry_at = time.monotonic() + COLLECTION_WAIT_SECONDS
                return
            self._create_indexes()
        except PyMongoError as exc:
            self._indexes_retry_at = time.monotonic() + INDEX_RETRY_SECONDS
            logger.debug("Index creation deferred: %s", exc)
        finally:
            self._indexes_lock.release()

    # -- TareaRepository -------------------------------------------------------------
    def save(self, tarea: Tarea) -> Tarea:
        self._ensure_indexes()
        with translate_mongo_errors():
            try:
                self._collection.replace_one(
                    _newer_than_stored(tarea.id, tarea.version), tarea_to_document(tarea), upsert=True
                )
            except DuplicateKeyError as exc:
                stored = self._collection.find_one({"_id": str(tarea.id)}, {"version": 1})
                actual = stored["version"] if stored else None
                raise ConflictoDeVersionError(tarea.id, tarea.version - 1, actual) from exc
        return tarea

    def get(self, tarea_id: UUID) -> Tarea | None:
        with translate_mongo_errors():
            document = self._collection.find_one({"_id": str(tarea_id), **LIVE})
        return tarea_from_document(document) if document is not None else None

    def list(self, *, estado: EstadoTarea | None = None, limit: int = 100, offset: int = 0) -> list[Tarea]:
        self._ensure_indexes()
        with translate_mongo_errors():
            cursor = (
                self._collection.find(self._filter(estado))
                .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
                .skip(offset)
                .limit(limit)
            )
            return [tarea_from_document(document) for document in cursor]

    def count(self, *, estado: EstadoTarea | None = None) -> int:
        with translate_mongo_errors():
            return int(self._collection.count_documents(self._filter(estado)))

    def eliminar(self, tarea_id: UUID) -> bool:
        with translate_mongo_errors():
            stored = self._collection.find_one({"_id": str(tarea_id), **LIVE}, {"version": 1})
            if stored is None:
                return False
            result = self._collection.replace_one(
                {"_id": str(tarea_id), "version": stored["version"]},
                tombstone(tarea_id, int(stored["version"]) + 1),
            )
        return result.matched_count == 1

    # -- ReplicaWriter ---------------------------------------------------------------
    def apply(self, events: Sequence[ReplicationEvent]) -> ApplyResult:
        if not events:
            return ApplyResult(applied=0, stale=0)
        self._ensure_indexes()
        operations = [replica_operation(event) for event in events]
        with translate_mongo_errors():
            refused = self._bulk_write(operations)
            # An insert refused as a duplicate only means the document exists: apply the
            # event as the guarded replace it stands for, which decides whether it is stale.
            inserts = [i for i in refused if isinstance(operations[i], InsertOne)]
            retries = [guarded_operation(events[i]) for i in inserts]
            stale = len(refused) - len(retries) + len(self._bulk_write(retries))
        return ApplyResult(applied=len(operations) - stale, stale=stale)

    def _bulk_write(self, operations: Sequence[WriteOperation]) -> Sequence[int]:
        """One unordered ``bulk_write``; return the indexes refused as duplicate keys.

        Any other write error is raised: the events stay pending and are retried.
        """
        if not operations:
            return []
        try:
            self._collection.bulk_write(list(operations), ordered=False)
        except BulkWriteError as exc:
            errors: list[dict[str, Any]] = exc.details.get("writeErrors", [])
            if exc.details.get("writeConcernErrors") or any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return [int(e["index"]) for e in errors]
        return []

    # -- helpers ---------------------------------------------------------------------
    @staticmethod
    def _filter(estado: EstadoTarea | None) -> MongoDocument:
        return {**LIVE, "estado": estado.value} if estado is not None else dict(LIVE)
