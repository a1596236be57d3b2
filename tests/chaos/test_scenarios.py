"""Break one real part of the running service under write load, heal it, then prove that
every acknowledged write reached both stores and nothing half-written was left behind.

Run with ``.venv/bin/pytest -m chaos -s``; ``DUALWRITE_CHAOS_SCALE`` stretches every
duration (default 1: the whole suite takes a few minutes).
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from infrastructure.messaging.celery_app import create_celery_app
from infrastructure.messaging.celery_publisher import CeleryEventPublisher
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.schema import outbox
from tests.chaos.consistency import (
    Snapshot,
    consistency_problems,
    take_snapshot,
    wait_until_drained,
)
from tests.chaos.figures import ScenarioFigures
from tests.chaos.harness import ChaosStack
from tests.support.load import LoadGenerator, LoadReport
from tests.support.services import wait_for

# Multiplies every load and fault duration; CI runs the default (a few minutes in all).
SCALE = float(os.environ.get("DUALWRITE_CHAOS_SCALE", "1"))
pytestmark = [pytest.mark.chaos, pytest.mark.timeout(int(240 + 120 * SCALE))]

LOAD_SECONDS = 14 * SCALE
FAULT_SECONDS = 4 * SCALE
DRAIN_TIMEOUT = 60 + 30 * SCALE
# A request that meets a store outage must be answered (503) within this bound.
OUTAGE_ANSWER_BOUND_SECONDS = 10.0

Fault = Callable[[ChaosStack, LoadGenerator], dict[str, Any]]


def run_under_load(stack: ChaosStack, fault: Fault) -> tuple[LoadReport, Snapshot, float, dict[str, Any]]:
    """Start the load, inject ``fault`` once the load is flowing, let the load finish,
    wait for the outbox to drain; return what the client saw and the stores hold."""
    load = LoadGenerator(stack.base_url, threads=4, duration=LOAD_SECONDS).start()
    wait_for(lambda: load.acked_count() >= 20, 30, message="the load to get going")
    extra = fault(stack, load)
    report = load.join()
    try:
        converge = wait_until_drained(stack.engine, DRAIN_TIMEOUT)
    except (AssertionError, TimeoutError) as exc:
        raise AssertionError(f"{exc}\n{stack.logs()}") from exc
    return report, take_snapshot(stack.engine, stack.mongo_client, stack.mongo_db), converge, extra


def assert_consistent(stack: ChaosStack, snapshot: Snapshot, report: LoadReport) -> None:
    problems = consistency_problems(snapshot, report)
    assert not problems, f"{len(problems)} problems, first ones:\n" + "\n".join(problems[:20])
    assert snapshot.sql, "the load stored nothing"
    reconcile = stack.reconcile()
    assert not reconcile.drift, f"reconcile found drift: {reconcile.drift[:10]}"
    assert not reconcile.in_flight, f"reconcile found events still in flight: {reconcile.in_flight[:10]}"
    assert reconcile.rows_sql == len(snapshot.sql)


def assert_never_failed(report: LoadReport, stack: ChaosStack) -> None:
    """With SQL up, a queued-mode write never depends on MongoDB, Redis or a worker."""
    assert not report.failed, (
        f"writes failed: {report.failures_by_status()}: {report.failed[:5]}\n{stack.logs()}"
    )


def test_mongo_outage_loses_no_acknowledged_write(chaos_stack: ChaosStack, record_figures) -> None:
    def fault(stack: ChaosStack, _: LoadGenerator) -> dict[str, Any]:
        stack.mongo.stop()
        time.sleep(FAULT_SECONDS)
        stack.mongo.start()
        return {"mongo_down_seconds": FAULT_SECONDS}

    report, snapshot, converge, extra = run_under_load(chaos_stack, fault)
    record_figures(ScenarioFigures.measure("mongo outage", report, snapshot, converge, **extra))
    assert_never_failed(report, chaos_stack)
    assert_consistent(chaos_stack, snapshot, report)


def test_redis_restart_loses_queued_events_and_the_relay_resends_them(
    chaos_stack: ChaosStack, record_figures
) -> None:
    def fault(stack: ChaosStack, _: LoadGenerator) -> dict[str, Any]:
        stack.redis.stop()  # SIGKILL: every queued and unacknowledged message is gone
        time.sleep(FAULT_SECONDS)
        stack.redis.start()
        return {"redis_down_seconds": FAULT_SECONDS}

    report, snapshot, converge, extra = run_under_load(chaos_stack, fault)
    record_figures(ScenarioFigures.measure("redis restart (data lost)", report, snapshot, converge, **extra))
    assert_never_failed(report, chaos_stack)
    assert_consistent(chaos_stack, snapshot, report)


def test_worker_killed_mid_batch_is_redelivered(chaos_stack: ChaosStack, record_figures) -> None:
    def fault(stack: ChaosStack, _: LoadGenerator) -> dict[str, Any]:
        # Kill while the worker holds a delivered, unacknowledged batch.
        wait_for(lambda: stack.unacked_messages() > 0, 15, 0.01, "a batch in the worker's hands")
        unacked = stack.unacked_messages()
        stack.workers[0].kill()
        time.sleep(FAULT_SECONDS / 2)
        stack.start_worker()
        return {"unacked_at_kill": unacked}

    report, snapshot, converge, extra = run_under_load(chaos_stack, fault)
    record_figures(ScenarioFigures.measure("worker SIGKILL mid-batch", report, snapshot, converge, **extra))
    assert extra["unacked_at_kill"] > 0
    assert_never_failed(report, chaos_stack)
    assert_consistent(chaos_stack, snapshot, report)


def _publisher(stack: ChaosStack) -> CeleryEventPublisher:
    settings = Settings(broker_url=stack.redis.url, replication_queue=stack.queue)
    return CeleryEventPublisher(create_celery_app(settings), stack.queue)


def _publish_shuffled(stack: ChaosStack, event_ids: list[int], rounds: int = 2) -> int:
    """Publish every id ``rounds`` times, shuffled, in small random batches."""
    publisher, rng, sent = _publisher(stack), random.Random(), 0
    for _ in range(rounds):
        ids = list(event_ids)
        rng.shuffle(ids)
        while ids:
            size = rng.randint(1, 8)
            batch, ids = ids[:size], ids[size:]
            publisher.publish(batch)
            sent += len(batch)
    return sent


def _event_ids(stack: ChaosStack, status: str | None = None) -> list[int]:
    query = sa.select(outbox.c.id)
    if status is not None:
        query = query.where(outbox.c.status == status)
    with stack.engine.connect() as conn:
        return [int(i) for i in conn.execute(query).scalars()]


def test_duplicated_and_reordered_events_change_nothing(chaos_stack: ChaosStack, record_figures) -> None:
    def fault(stack: ChaosStack, _: LoadGenerator) -> dict[str, Any]:
        # With no worker, events pile up; then every pending one is sent again, shuffled,
        # and two workers race through the queue in no particular order.
        stack.workers[0].stop()
        time.sleep(FAULT_SECONDS)
        duplicates = _publish_shuffled(stack, _event_ids(stack, "pending"))
        stack.start_worker()
        stack.start_worker()
        return {"duplicates_while_backlogged": duplicates}

    report, snapshot, converge, extra = run_under_load(chaos_stack, fault)
    assert_never_failed(report, chaos_stack)
    assert_consistent(chaos_stack, snapshot, report)

    # Replay the whole history, shuffled and twice, as if every acknowledgement had been
    # lost: old versions arrive after new ones and deletes before their updates.
    with chaos_stack.engine.begin() as conn:
        conn.execute(outbox.update().values(status="pending", applied_at=None, dispatched_at=sa.func.now()))
    replayed = _publish_shuffled(chaos_stack, _event_ids(chaos_stack))
    replay_converge = wait_until_drained(chaos_stack.engine, DRAIN_TIMEOUT)
    after = take_snapshot(chaos_stack.engine, chaos_stack.mongo_client, chaos_stack.mongo_db)
    extra |= {"history_replayed": replayed, "replay_converge_seconds": round(replay_converge, 2)}
    figures = ScenarioFigures.measure("duplicated + reordered events", report, snapshot, converge, **extra)
    record_figures(figures)
    assert after.mongo_live == snapshot.mongo_live
    assert after.mongo_tombstones == snapshot.mongo_tombstones
    assert_consistent(chaos_stack, after, report)


class OutageProbe:
    """POSTs one uniquely titled Tarea after another while a store is cut off."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.answers: list[tuple[str, int | str, float, dict[str, Any] | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> OutageProbe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(OUTAGE_ANSWER_BOUND_SECONDS + 10)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=OUTAGE_ANSWER_BOUND_SECONDS + 5) as client:
            while not self._stop.is_set():
                titulo = f"probe-{uuid.uuid4().hex}"
                started = time.monotonic()
                try:
                    response = client.post("/tareas", json={"titulo": titulo})
                    status: int | str = response.status_code
                    is_json = response.headers.get("content-type") == "application/json"
                    body = response.json() if is_json else None
                except httpx.HTTPError as exc:
                    status, body = type(exc).__name__, None
                self.answers.append((titulo, status, time.monotonic() - started, body))
                self._stop.wait(0.2)


def test_postgres_refusing_connections_answers_503_and_leaves_nothing_half_written(
    chaos_stack: ChaosStack, record_figures
) -> None:
    probes: list[OutageProbe] = []
    healed: list[float] = []

    def fault(stack: ChaosStack, _: LoadGenerator) -> dict[str, Any]:
        stack.pg_proxy.close()
        probe = OutageProbe(stack.base_url).start()
        probes.append(probe)
        time.sleep(FAULT_SECONDS)
        probe.stop()
        stack.pg_proxy.open()
        healed.append(time.monotonic())
        wait_for(lambda: _ready(stack.base_url), 30, 0.2, "the API to be ready again")
        return {"pg_down_seconds": FAULT_SECONDS}

    report, snapshot, converge, extra = run_under_load(chaos_stack, fault)
    answers = probes[0].answers
    extra["probe_503s"] = sum(1 for a in answers if a[1] == 503)
    extra["probe_slowest_seconds"] = round(max((a[2] for a in answers), default=0.0), 2)
    figures = ScenarioFigures.measure("postgres refuses connections", report, snapshot, converge, **extra)
    record_figures(figures)

    assert answers, "the probe sent nothing during the outage"
    assert all(status == 503 for _, status, _, _ in answers), answers
    assert all(body and body["error"] == "store_unavailable" for *_, body in answers), answers
    assert all(seconds < OUTAGE_ANSWER_BOUND_SECONDS for _, _, seconds, _ in answers), answers
    probe_titulos = {titulo for titulo, *_ in answers}
    assert not probe_titulos & snapshot.titulos_in_sql(), "a write refused with 503 was stored in SQL"
    mongo_titulos = {t.titulo for t in snapshot.mongo_live.values()}
    assert not probe_titulos & mongo_titulos, "a write refused with 503 reached MongoDB"
    # The load met the same outage: only clean 503s, never a 500 or a hang.
    assert report.failed, "the load never met the outage"
    assert set(report.failures_by_status()) == {"503"}, report.failures_by_status()
    assert any(a.started > healed[0] for a in report.acked), "no write succeeded after the outage"
    assert_consistent(chaos_stack, snapshot, report)


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
