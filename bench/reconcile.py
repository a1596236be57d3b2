"""Reconcile time: compare every Tarea of SQL with the MongoDB replica.

The product's reconcile use case is used when the container offers one
(``Container.reconciliar()``); otherwise a plain chunked comparison of (id, version)
pairs, which is a lower bound of what any reconcile must read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from bench.post_latency import truncate
from bench.progress import say
from core.domain.models.tarea import Tarea
from infrastructure.container import Container
from infrastructure.mapping.tarea_mapping import tarea_to_document, tarea_to_record
from infrastructure.sqlalchemy.schema import tareas

SEED_CHUNK = 5000
COMPARE_CHUNK = 1000


def seed_both_stores(container: Container, rows: int) -> None:
    """The same ``rows`` Tareas in SQL and MongoDB, through the one shared mapping."""
    truncate(container.settings.resolved_database_url())
    collection = container.mongo_repository.collection
    collection.drop()
    for start in range(0, rows, SEED_CHUNK):
        batch = [
            Tarea.crear(f"reconcile {start + i}", "benchmark") for i in range(min(SEED_CHUNK, rows - start))
        ]
        with container.engine.begin() as conn:
            conn.execute(tareas.insert(), [tarea_to_record(t) for t in batch])
        collection.insert_many([tarea_to_document(t) for t in batch], ordered=False)


def chunked_id_version_compare(container: Container, chunk: int = COMPARE_CHUNK) -> int:
    """Walk SQL in id order ``chunk`` rows at a time; fetch the same id range from
    MongoDB; count the ids whose version differs or that one side lacks."""
    collection = container.mongo_repository.collection
    differing = 0
    last_id = ""
    with container.engine.connect() as conn:
        while True:
            rows = conn.execute(
                sa.select(tareas.c.id, tareas.c.version)
                .where(tareas.c.id > last_id)
                .order_by(tareas.c.id)
                .limit(chunk)
            ).all()
            if not rows:
                return differing
            sql = {row.id: row.version for row in rows}
            first, last_id = rows[0].id, rows[-1].id
            mongo = {
                d["_id"]: d.get("version")
                for d in collection.find({"_id": {"$gte": first, "$lte": last_id}}, {"version": 1})
            }
            differing += sum(1 for key in sql.keys() | mongo.keys() if sql.get(key) != mongo.get(key))


def reconcile_runner(container: Container) -> tuple[str, Callable[[], Any]]:
    use_case_factory = getattr(container, "reconciliar", None)
    if callable(use_case_factory):
        use_case = use_case_factory()
        return "ReconciliarUseCase (checksums per chunk of 1000)", lambda: use_case.execute(chunk_size=1000)
    return "chunked (id, version) comparison, 1000 per chunk", lambda: chunked_id_version_compare(container)


def run_reconcile_benchmark(container: Container, rows: int) -> dict[str, Any]:
    say(f"reconcile: seeding {rows} Tareas into both stores")
    started = time.perf_counter()
    seed_both_stores(container, rows)
    seeded = time.perf_counter() - started
    method, run = reconcile_runner(container)
    say(f"reconcile: {method}")
    started = time.perf_counter()
    outcome = run()
    seconds = time.perf_counter() - started
    say(f"reconcile: {rows} rows in {seconds:.2f}s")
    return {
        "rows": rows,
        "method": method,
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1),
        "seed_seconds": round(seeded, 3),
        "outcome": repr(outcome)[:200],
    }
