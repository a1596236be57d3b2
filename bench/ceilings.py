"""The ceilings: what the stores do with no service code in the way."""

from __future__ import annotations

import time

from pymongo import ReplaceOne

from bench.post_latency import truncate
from bench.progress import say
from core.domain.models.tarea import Tarea
from infrastructure.mapping.tarea_mapping import tarea_to_document, tarea_to_record
from infrastructure.mongo.client import create_mongo_client
from infrastructure.mongo.repository.tarea_repository import MongoTareaRepository
from infrastructure.sqlalchemy.engine import create_sql_engine
from infrastructure.sqlalchemy.schema import tareas

BATCH = 500


def mongo_bulk_upserts_per_second(mongo_url: str, documents: int) -> float:
    """pymongo ``bulk_write`` of version-guarded ReplaceOne upserts, 500 per call: the
    same operations the replica applies, with nothing else around them."""
    client = create_mongo_client(mongo_url)
    # The replica's collection, with its indexes, so the ceiling writes what the worker writes.
    replica = MongoTareaRepository(client, "bench_ceiling")
    replica.list(limit=1)
    collection = replica.collection
    docs = [tarea_to_document(Tarea.crear(f"ceiling {n}", "benchmark")) for n in range(documents)]
    started = time.perf_counter()
    for start in range(0, documents, BATCH):
        operations = [
            ReplaceOne({"_id": d["_id"], "version": {"$lt": d["version"]}}, d, upsert=True)
            for d in docs[start : start + BATCH]
        ]
        collection.bulk_write(operations, ordered=False)
    took = time.perf_counter() - started
    client.drop_database("bench_ceiling")
    client.close()
    return documents / took


def sql_inserts_per_second(database_url: str, rows: int, *, batch: int) -> float:
    """INSERTs of Tarea rows, ``batch`` rows per transaction (1 = one commit per row, as
    a request does)."""
    truncate(database_url)
    engine = create_sql_engine(database_url)
    records = [tarea_to_record(Tarea.crear(f"ceiling {n}", "benchmark")) for n in range(rows)]
    started = time.perf_counter()
    with engine.connect() as conn:
        for start in range(0, rows, batch):
            with conn.begin():
                conn.execute(tareas.insert(), records[start : start + batch])
    took = time.perf_counter() - started
    engine.dispose()
    return rows / took


def run_ceilings(database_url: str, mongo_url: str, documents: int, rows: int) -> dict[str, float]:
    say(f"ceilings: {documents} MongoDB bulk upserts, {rows} SQL inserts (single and batched)")
    result = {
        "mongo_bulk_upserts_per_second": round(mongo_bulk_upserts_per_second(mongo_url, documents), 1),
        "sql_inserts_per_second_single": round(sql_inserts_per_second(database_url, rows, batch=1), 1),
        "sql_inserts_per_second_batched": round(
            sql_inserts_per_second(database_url, rows * 5, batch=BATCH), 1
        ),
    }
    say(
        f"ceilings: MongoDB {result['mongo_bulk_upserts_per_second']} upserts/s, SQL "
        f"{result['sql_inserts_per_second_single']} inserts/s (one per commit), "
        f"{result['sql_inserts_per_second_batched']} inserts/s (batched)"
    )
    return result
