"""POST /tareas latency and throughput at a fixed concurrency, one API process per mode."""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from bench.environment import BenchEnvironment
from bench.progress import say
from bench.stats import latency_summary_ms
from infrastructure.sqlalchemy.engine import create_sql_engine, migrate
from infrastructure.sqlalchemy.schema import outbox
from tests.support.services import wait_for


@dataclass(frozen=True)
class Mode:
    name: str
    orm: str
    dual_mode: str = "queued"
    linger_ms: float = 0.0
    publish_via: str = "request"

    def label(self, delay_ms: float) -> str:
        return self.name if self.orm == "sqlalchemy" else f"{self.name} @{delay_ms:g}ms"


SQL_ONLY = Mode("sql-only", "sqlalchemy")
THREADPOOL = Mode("threadpool", "dual", "threadpool")
QUEUED = Mode("queued", "dual", "queued")
# The batching publisher (DUALWRITE_PUBLISH_LINGER_MS), as docker-compose.yml runs it.
LINGER_MS = 20.0
QUEUED_BATCHING = Mode("queued+batching", "dual", "queued", LINGER_MS)
# The relay publishes, woken by PostgreSQL's NOTIFY, as docker-compose.yml runs it.
QUEUED_RELAY = Mode("queued+relay", "dual", "queued", LINGER_MS, publish_via="relay")


def post_load(base_url: str, requests: int, concurrency: int) -> dict[str, Any]:
    """``requests`` POSTs from ``concurrency`` threads, each with a keep-alive client."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    remaining = [requests]

    def take() -> bool:
        with lock:
            if remaining[0] <= 0:
                return False
            remaining[0] -= 1
            return True

    def client_loop() -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while take():
                body = {"titulo": f"bench {uuid.uuid4().hex[:8]}", "descripcion": "benchmark write"}
                started = time.perf_counter()
                try:
                    response = client.post("/tareas", json=body)
                    ok = response.status_code == 201
                    detail = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    ok, detail = False, type(exc).__name__
                took = time.perf_counter() - started
                with lock:
                    if ok:
                        latencies.append(took)
                    else:
                        errors.append(detail)

    threads = [threading.Thread(target=client_loop) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        **latency_summary_ms(latencies),
        "throughput_rps": round(len(latencies) / wall, 1),
        "requests": requests,
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured_load(base_url: str, requests: int, concurrency: int, pids: dict[str, int]) -> dict[str, Any]:
    """:func:`post_load`, plus the CPU milliseconds each process in ``pids`` spent per request."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    result = post_load(base_url, requests, concurrency)
    for name, pid in pids.items():
        result[f"{name}_cpu_ms_per_request"] = round((cpu_seconds(pid) - before[name]) * 1000 / requests, 3)
    return result


def wait_published(database_url: str, timeout: float) -> None:
    """Wait until every outbox event has been handed to the queue (the relay is up)."""
    engine = create_sql_engine(database_url)
    query = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.dispatched_at.is_(None))

    def all_published() -> bool:
        with engine.connect() as conn:
            return conn.execute(query).scalar_one() == 0

    try:
        wait_for(all_published, timeout, 0.05, "the relay to publish the warm-up (is it running?)")
    finally:
        engine.dispose()


def truncate(database_url: str) -> None:
    engine = create_sql_engine(database_url)
    migrate(engine)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE tareas, outbox, outbox_attempts RESTART IDENTITY CASCADE"))
        else:
            for table in ("outbox_attempts", "outbox", "tareas"):
                conn.execute(sa.text(f"DELETE FROM {table}"))
    engine.dispose()


def run_post_benchmarks(
    env: BenchEnvironment, delays_ms: list[float], requests: int, concurrency: int, warmup: int
) -> list[dict[str, Any]]:
    """SQL-only once (it never touches MongoDB), then threadpool and queued per delay.

    The replication worker is not running: this measures what a request costs the API,
    and the queue simply accumulates (the drain and lag benchmarks measure the worker).
    In ``queued+relay`` the relay process runs, so the publishing it takes over from the
    API still competes for the same cores.
    """
    cases = [(SQL_ONLY, 0.0)] + [
        (mode, d) for d in delays_ms for mode in (THREADPOOL, QUEUED, QUEUED_BATCHING, QUEUED_RELAY)
    ]
    results = []
    for mode, delay in cases:
        label = mode.label(delay)
        truncate(env.database_url)
        app_env = env.app_env(
            orm=mode.orm,
            mode=mode.dual_mode,
            delay_ms=delay,
            linger_ms=mode.linger_ms,
            publish_via=mode.publish_via,
        )
        child, base_url = env.start_api(label.replace(" @", "-"), app_env)
        relay = env.start_relay(label.replace(" @", "-"), app_env) if mode.publish_via == "relay" else None
        try:
            say(f"POST {label}: warm-up {warmup}, then {requests} requests at concurrency {concurrency}")
            post_load(base_url, warmup, concurrency)
            if relay is not None:  # the relay's start-up must not compete with the measured run
                wait_published(env.database_url, timeout=60)
            pids = {"api": child.process.pid} | ({"relay": relay.process.pid} if relay else {})
            measured = measured_load(base_url, requests, concurrency, pids)
        finally:
            child.stop()
            if relay is not None:
                relay.stop()
        say(
            f"POST {label}: p50 {measured['p50_ms']} ms, p95 {measured['p95_ms']} ms, "
            f"p99 {measured['p99_ms']} ms, {measured['throughput_rps']} req/s, {measured['errors']} errors, "
            f"API CPU {measured['api_cpu_ms_per_request']} ms/request"
        )
        results.append({"mode": mode.name, "mongo_delay_ms": delay, "label": label, **measured})
    return results
