"""MongoDB side of reconciliation: live Tareas read in ``_id`` order by range."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

from pymongo import ASCENDING
from pymongo.collection import Collection as MongoCollection

from core.domain.models.reconciliation import ChunkChecksum, IdRange, RowDigest
from core.domain.models.tarea import Tarea
from core.domain.ports.reconciliation import TareaScanner
from infrastructure.mapping.tarea_digest import chunked_checksums, row_digest
from infrastructure.mapping.tarea_mapping import tarea_from_document
from infrastructure.mongo.client import MongoDocument, translate_mongo_errors
from infrastructure.mongo.repository.tarea_repository import LIVE

IN_LIST_SIZE = 1000


def _range_filter(id_range: IdRange) -> MongoDocument:
    bounds: MongoDocument = {}
    if id_range.lower is not None:
        bounds["$gte"] = id_range.lower
    if id_range.upper is not None:
        bounds["$lt"] = id_range.upper
    return {**LIVE, "_id": bounds} if bounds else dict(LIVE)


class MongoTareaScanner(TareaScanner):
    """Scans the replica's ``tareas`` collection; tombstones are not live Tareas."""

    def __init__(self, collection: MongoCollection[MongoDocument]) -> None:
        self._collection = collection

    def chunk_bounds(self, chunk_size: int) -> list[str]:
        with translate_mongo_errors():
            ids = self._collection.find(LIVE, {"_id": 1}).sort("_id", ASCENDING)
            return [str(doc["_id"]) for n, doc in enumerate(ids) if n and n % chunk_size == 0]

    def checksums(self, bounds: Sequence[str]) -> Iterator[ChunkChecksum]:
        # One ordered scan: far cheaper than a range query per chunk on servers that
        # cannot serve ``_id`` ranges from the index.
        with translate_mongo_errors():
            yield from chunked_checksums(self._stream(IdRange(None, None)), bounds)

    def digests(self, id_range: IdRange) -> list[RowDigest]:
        with translate_mongo_errors():
            return [row_digest(tarea) for tarea in self._stream(id_range)]

    def digests_of(self, tarea_ids: Collection[str]) -> dict[str, RowDigest]:
        found: dict[str, RowDigest] = {}
        ids = sorted(tarea_ids)
        with translate_mongo_errors():
            for start in range(0, len(ids), IN_LIST_SIZE):
                for doc in self._collection.find({**LIVE, "_id": {"$in": ids[start : start + IN_LIST_SIZE]}}):
                    digest = row_digest(tarea_from_document(doc))
                    found[digest.tarea_id] = digest
        return found

    def stored_versions(self, tarea_ids: Collection[str]) -> dict[str, int]:
        versions: dict[str, int] = {}
        ids = sorted(tarea_ids)
        with translate_mongo_errors():
            for start in range(0, len(ids), IN_LIST_SIZE):
                chunk = ids[start : start + IN_LIST_SIZE]
                for doc in self._collection.find({"_id": {"$in": chunk}}, {"version": 1}):
                    versions[str(doc["_id"])] = int(doc["version"])
        return versions

    def _stream(self, id_range: IdRange) -> Iterator[Tarea]:
        cursor = self._collection.find(_range_filter(id_range)).sort("_id", ASCENDING).batch_size(1000)
        for document in cursor:
            yield tarea_from_document(document)
