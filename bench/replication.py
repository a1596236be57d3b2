"""The replication path: worker drain throughput and replication lag at a steady rate.

Both use a real Celery worker process (``celery -A workers.app worker``, prefork, two
processes, as in docker-compose.yml) and the product's outbox, publisher and use cases.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.environment import BenchEnvironment
from bench.post_latency import truncate
from bench.progress import say
from bench.stats import latency_summary_ms
from core.application.crear_tarea import CrearTareaCommand
from core.domain.models.replication import EventStatus, ReplicationEvent
from core.domain.models.tarea import Tarea
from infrastructure.container import Container, bootstrap
from infrastructure.mapping.tarea_mapping import tarea_to_record
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.outbox.outbox_store import insert_events
from infrastructure.sqlalchemy.schema import outbox, tareas

RELAY_BATCH = 500


def container_for(env: dict[str, str]) -> Container:
    """The product's composition root for the same settings the worker process uses."""
    fields: dict[str, Any] = {name.removeprefix("DUALWRITE_").lower(): value for name, value in env.items()}
    return bootstrap(Settings.model_validate(fields))


def seed_events(engine: Engine, count: int, chunk: int = 1000) -> list[int]:
    """Commit ``count`` Tareas with their outbox events (as already dispatched, so no
    relay would send them), exactly as ``save_and_record`` writes them."""
    ids: list[int] = []
    for start in range(0, count, chunk):
        batch = [Tarea.crear(f"drain {start + i}", "benchmark") for i in range(min(chunk, count - start))]
        with engine.begin() as conn:
            conn.execute(tareas.insert(), [tarea_to_record(t) for t in batch])
            recorded = insert_events(conn, [ReplicationEvent.upsert(t) for t in batch], dispatched=True)
        ids.extend(e.event_id for e in recorded)
    return ids


def pending_count(engine: Engine) -> int:
    query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == EventStatus.PENDING.value)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def wait_drained(engine: Engine, timeout: float) -> float:
    """Seconds until no event is pending (polled every 20 ms); raises on timeout."""
    started = time.perf_counter()
    while pending_count(engine):
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{pending_count(engine)} events still pending after {timeout:g}s")
        time.sleep(0.02)
    return time.perf_counter() - started


def drain(container: Container, events: int, batch: int, timeout: float) -> dict[str, Any]:
    """Seed ``events``, publish them ``batch`` ids per task, time until all are applied."""
    truncate(container.settings.resolved_database_url())
    # Each worker process builds its container on its first task: keep that out of the timing.
    for event_id in seed_events(container.engine, 4, chunk=1):
        container.publisher.publish([event_id])
    wait_drained(container.engine, timeout)
    ids = seed_events(container.engine, events)
    started = time.perf_counter()
    for start in range(0, len(ids), batch):
        container.publisher.publish(ids[start : start + batch])
    seconds = time.perf_counter() - started + wait_drained(container.engine, timeout)
    return {
        "events": events,
        "batch": batch,
        "seconds": round(seconds, 3),
        "per_second": round(events / seconds, 1),
    }


def run_drain_benchmarks(env: BenchEnvironment, batched_events: int, single_events: int) -> dict[str, Any]:
    app_env = env.app_env(orm="dual", mode="queued")
    container = container_for(app_env)
    worker = env.start_worker(app_env)
    try:
        say(f"drain: {batched_events} events in tasks of {RELAY_BATCH} (relay batches)")
        batched = drain(container, batched_events, RELAY_BATCH, timeout=300)
        say(f"drain batched: {batched['per_second']} writes/s")
        say(f"drain: {single_events} events, one task per write")
        single = drain(container, single_events, 1, timeout=300)
        say(f"drain one-per-write: {single['per_second']} writes/s")
    finally:
        worker.stop()
        container.close()
    return {"batched": batched, "one_per_write": single}


def steady_writes(container: Container, rate: float, seconds: float, threads: int = 8) -> dict[str, float]:
    """Create Tareas through the product's use case at ``rate`` per second (open loop)."""
    use_case = container.crear_tarea()
    total = int(rate * seconds)
    failures = [0]
    lock = threading.Lock()

    def write(n: int) -> None:
        try:
            use_case.execute(CrearTareaCommand(titulo=f"lag {n}", descripcion="benchmark"))
        except Exception:
            with lock:
                failures[0] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for n in range(total):
            due = started + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(write, n)
    took = time.perf_counter() - started
    return {"writes": total, "failures": failures[0], "achieved_rate": round(total / took, 1)}


def lag_from_outbox(engine: Engine) -> list[float]:
    """applied_at - created_at of every applied event (created_at is the Tarea's
    ``updated_at``, taken just before the SQL commit; applied_at is written right
    after the MongoDB bulk write)."""
    query = sa.select(outbox.c.created_at, outbox.c.applied_at).where(outbox.c.applied_at.is_not(None))
    with engine.connect() as conn:
        return [(applied - created).total_seconds() for created, applied in conn.execute(query)]


def run_lag_benchmark(
    env: BenchEnvironment, rate: float, seconds: float, linger_ms: float, publish_via: str = "request"
) -> dict[str, Any]:
    """Writes through the queued dual repository at a steady rate with the worker (and,
    when it publishes, the relay process) running."""
    app_env = env.app_env(orm="dual", mode="queued", linger_ms=linger_ms, publish_via=publish_via)
    container = container_for(app_env)
    truncate(container.settings.resolved_database_url())
    publisher = "relay" if publish_via == "relay" else f"request, linger {linger_ms:g} ms"
    worker = env.start_worker(app_env)
    relay = env.start_relay("lag", app_env) if publish_via == "relay" else None
    try:
        say(f"lag: {rate:g} writes/s for {seconds:g}s, queued, published by {publisher}, worker running")
        # Every process up and warm (the first task builds each worker's container) before
        # the clock starts; then only the measured writes are counted.
        steady_writes(container, 20, 0.5)
        wait_drained(container.engine, timeout=120)
        truncate(container.settings.resolved_database_url())
        writes = steady_writes(container, rate, seconds)
        backlog = pending_count(container.engine)
        drained_after = wait_drained(container.engine, timeout=120)
        lags = lag_from_outbox(container.engine)
    finally:
        worker.stop()
        if relay is not None:
            relay.stop()
        container.close()
    summary = {
        "target_rate": rate,
        "publisher": publisher,
        "publish_linger_ms": linger_ms,
        "seconds": seconds,
        **writes,
        "backlog_at_end": backlog,
        "drained_after_s": round(drained_after, 3),
        **latency_summary_ms(lags),
    }
    say(
        f"lag ({publisher}): p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms "
        f"at {writes['achieved_rate']} writes/s"
    )
    return summary
