"""One benchmark run on one machine, every mode side by side.

1. POST /tareas latency and throughput: SQL-only, dual threadpool and dual queued, with
   MongoDB at 0 ms and behind a 10 ms latency proxy.
2. Ceilings: raw pymongo bulk_write upserts/s, raw SQL inserts/s.
3. Worker drain: secondary writes/s with relay-sized batches vs one task per write.
4. Replication lag at a steady write rate.
5. Reconcile time.

Writes ``<out>/<timestamp>.json``, ``.md`` and ``.png`` and prints the ratios against the
targets. ``--quick`` fits in about two minutes on two cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.ceilings import run_ceilings
from bench.environment import BenchEnvironment
from bench.post_latency import LINGER_MS, run_post_benchmarks
from bench.progress import elapsed, say
from bench.reconcile import run_reconcile_benchmark
from bench.replication import container_for, run_drain_benchmarks, run_lag_benchmark
from bench.report import markdown, ratios_and_targets, write_outputs


@dataclass(frozen=True)
class Sizes:
    requests: int
    warmup: int
    concurrency: int
    drain_batched: int
    drain_single: int
    lag_rate: float
    lag_seconds: float
    ceiling_documents: int
    ceiling_rows: int
    reconcile_rows: int


QUICK = Sizes(300, 30, 8, 1500, 200, 300, 6, 1500, 600, 5_000)
FULL = Sizes(3000, 200, 8, 20000, 2000, 300, 30, 20000, 3000, 100_000)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def run(sizes: Sizes, quick: bool, delays_ms: list[float], workdir: Path) -> dict[str, Any]:
    env = BenchEnvironment.start(workdir)
    say(f"stores: SQL={env.sql_kind}, broker={env.broker_kind}, MongoDB=secantusd-py on {env.mongo.port}")
    results: dict[str, Any] = {
        "meta": {
            "timestamp": time.strftime("%Y%m%dT%H%M%S"),
            "quick": quick,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sql": env.sql_kind,
            "broker": env.broker_kind,
            "mongo": f"secantusd-py {_version('secantusdb')}",
            "requests": sizes.requests,
            "concurrency": sizes.concurrency,
            "mongo_delays_ms": delays_ms,
        }
    }
    try:
        results["post"] = run_post_benchmarks(env, delays_ms, sizes.requests, sizes.concurrency, sizes.warmup)
        results["ceilings"] = run_ceilings(
            env.database_url, env.mongo_url(), sizes.ceiling_documents, sizes.ceiling_rows
        )
        results["drain"] = run_drain_benchmarks(env, sizes.drain_batched, sizes.drain_single)
        results["lag"] = [
            run_lag_benchmark(env, sizes.lag_rate, sizes.lag_seconds, LINGER_MS, "request"),
            run_lag_benchmark(env, sizes.lag_rate, sizes.lag_seconds, LINGER_MS, "relay"),
        ]
        container = container_for(env.app_env(orm="dual", mode="queued"))
        try:
            results["reconcile"] = run_reconcile_benchmark(container, sizes.reconcile_rows)
        finally:
            container.close()
    finally:
        env.close()
    results["ratios"], results["targets"] = ratios_and_targets(results)
    results["meta"]["total_seconds"] = round(elapsed(), 1)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Benchmark the dual write.")
    parser.add_argument("--quick", action="store_true", help="small sizes, about two minutes")
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="output folder")
    parser.add_argument(
        "--mongo-delay-ms", type=float, nargs="+", default=[0.0, 10.0], help="MongoDB latencies to inject"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="dualwrite-bench-") as workdir:
        results = run(sizes, args.quick, args.mongo_delay_ms, Path(workdir))
    paths = write_outputs(results, args.out)
    print(markdown(results))
    for ratio_name, value in results["ratios"].items():
        print(f"ratio  {ratio_name}: {value}")
    missed = [t["target"] for t in results["targets"] if not t["met"]]
    print(f"targets met: {len(results['targets']) - len(missed)}/{len(results['targets'])}")
    say(f"done in {results['meta']['total_seconds']}s: " + ", ".join(str(p) for p in paths.values()))
