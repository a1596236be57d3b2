"""Pages through MongoDB's live Tareas in id order: the backfill source when SQL
becomes a replica again (``mongo_only`` -> ``mongo_primary``)."""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.collection import Collection

from core.domain.models.tarea import Tarea
from core.domain.ports.reconciliation import TareaPager
from infrastructure.mapping.tarea_mapping import tarea_from_document
from infrastructure.mongo.client import MongoDocument, translate_mongo_errors
from infrastructure.mongo.repository.tarea_repository import LIVE


class MongoTareaPager(TareaPager):
    """Keyset pages over the live documents of the ``tareas`` collection by ``_id``."""

    def __init__(self, collection: Collection[MongoDocument]) -> None:
        self._collection = collection

    @staticmethod
    def _after(last_id: str | None) -> MongoDocument:
        query: MongoDocument = dict(LIVE)
        if last_id is not None:
            query["_id"] = {"$gt": last_id}
        return query

    def page_after(self, last_id: str | None, limit: int) -> list[Tarea]:
        with translate_mongo_errors():
            cursor = self._collection.find(self._after(last_id)).sort("_id", ASCENDING).limit(limit)
            return [tarea_from_document(document) for document in cursor]

    def count_after(self, last_id: str | None) -> int:
        with translate_mongo_errors():
            return int(self._collection.count_documents(self._after(last_id)))
