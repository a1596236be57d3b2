"""The ceilings: what the stores do with no service code in the way."""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.post_latency import truncate
from bench.progress import say
from core.domain.models.replication import ReplicationEvent
from core.domain.models.tarea import Tarea
from infrastructure.mapping.tarea_mapping import tarea_to_record
from infrastructure.mongo.client import create_mongo_client
from infrastructure.mongo.repository.tarea_repository import (
    COLLECTION,
    MongoTareaRepository,
    WriteOperation,
    guarded_operation,
    replica_operation,
)
from infrastructure.sqlalchemy.engine import create_sql_engine
from infrastructure.sqlalchemy.schema import tareas

BATCH = 500


MONGO_OPERATIONS: dict[str, Callable[[ReplicationEvent], WriteOperation]] = {
    # The ceiling, and what the replica sends for updates and deletes.
    "upserts": guarded_operation,
    # What the replica sends for a Tarea's first version.
    "inserts": replica_operation,
}


def mongo_bulk_writes_per_second(mongo_url: str, documents: int, kind: str) -> float:
    """pymongo ``bulk_write`` of new Tarea documents, 500 per call, into a collection
    provisioned as the replica's (same indexes), with nothing else around them.

    ``kind`` is ``upserts`` (version-guarded ReplaceOne, as the replica writes an update
    or a delete) or ``inserts`` (InsertOne, as it writes a Tarea's first version).
    """
    client = create_mongo_client(mongo_url)
    database = f"bench_ceiling_{kind}"
    client.drop_database(database)
    MongoTareaRepository(client, database).ensure_indexes()
    collection = client[database][COLLECTION]
    make = MONGO_OPERATIONS[kind]
    operations = [
        make(ReplicationEvent.upsert(Tarea.crear(f"ceiling {n}", "benchmark"))) for n in range(documents)
    ]
    started = time.perf_counter()
    for start in range(0, documents, BATCH):
        collection.bulk_write(operations[start : start + BATCH], ordered=False)
    took = time.perf_counter() - started
    client.drop_database(database)
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
    say(f"ceilings: {documents} MongoDB bulk upserts and inserts, {rows} SQL inserts (single and batched)")
    result = {
        "mongo_bulk_upserts_per_second": round(
            mongo_bulk_writes_per_second(mongo_url, documents, "upserts"), 1
        ),
        "mongo_bulk_inserts_per_second": round(
            mongo_bulk_writes_per_second(mongo_url, documents, "inserts"), 1
        ),
        "sql_inserts_per_second_single": round(sql_inserts_per_second(database_url, rows, batch=1), 1),
        "sql_inserts_per_second_batched": round(
            sql_inserts_per_second(database_url, rows * 5, batch=BATCH), 1
        ),
    }
    say(
        f"ceilings: MongoDB {result['mongo_bulk_upserts_per_second']} upserts/s, "
        f"{result['mongo_bulk_inserts_per_second']} inserts/s; SQL "
        f"{result['sql_inserts_per_second_single']} inserts/s (one per commit), "
        f"{result['sql_inserts_per_second_batched']} inserts/s (batched)"
    )
    return result
