"""Ratios against the targets, and the JSON, Markdown and PNG outputs of a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.stats import ratio

QUEUED_MODES = ("queued", "queued+batching", "queued+relay")


def _post(results: dict[str, Any], mode: str, delay_ms: float) -> dict[str, Any] | None:
    for row in results["post"]:
        if row["mode"] == mode and (mode == "sql-only" or row["mongo_delay_ms"] == delay_ms):
            return dict(row)
    return None


def ratios_and_targets(results: dict[str, Any]) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The ratios the issue asks for, each with its target and whether it is met."""
    ratios: dict[str, float] = {}
    targets: list[dict[str, Any]] = []

    def check(name: str, value: float, bound: float, higher_is_better: bool, unit: str = "x") -> None:
        met = value >= bound if higher_is_better else value <= bound
        targets.append(
            {
                "target": name,
                "value": value,
                "bound": f"{'>=' if higher_is_better else '<='} {bound:g}{unit}",
                "met": met,
            }
        )

    sql = _post(results, "sql-only", 0)
    delays = sorted({row["mongo_delay_ms"] for row in results["post"] if row["mode"] != "sql-only"})
    slow = max(delays) if delays else None
    threadpool_slow = _post(results, "threadpool", slow) if slow else None
    for row in results["post"]:
        if sql and row["mode"] != "sql-only":
            ratios[f"POST p50 {row['label']} / sql-only"] = ratio(row["p50_ms"], sql["p50_ms"])
    for queued_mode in QUEUED_MODES:
        queued0 = _post(results, queued_mode, 0)
        if sql and queued0:
            value = ratios[f"POST p50 {queued0['label']} / sql-only"]
            check(f"{queued_mode} POST p50 / sql-only p50 (Mongo 0 ms)", value, 1.10, False)
        queued_slow = _post(results, queued_mode, slow) if slow else None
        if queued_slow and threadpool_slow:
            value = ratio(queued_slow["p50_ms"], threadpool_slow["p50_ms"])
            ratios[f"POST p50 {queued_mode} / threadpool (Mongo {slow:g} ms)"] = value
            check(f"{queued_mode} POST p50 / threadpool p50 (Mongo {slow:g} ms)", value, 0.5, False)
    drain, ceilings = results.get("drain"), results.get("ceilings")
    if drain and ceilings:
        batched = drain["batched"]["per_second"]
        value = ratio(batched, ceilings["mongo_bulk_upserts_per_second"])
        ratios["drain batched / MongoDB bulk ceiling"] = value
        check("worker drain (batched) / raw MongoDB bulk_write ceiling", value, 0.8, True)
        # The drain's events are all first versions, which the replica writes as inserts:
        # this is how close the worker comes to the same operations without it.
        if "mongo_bulk_inserts_per_second" in ceilings:
            value = ratio(batched, ceilings["mongo_bulk_inserts_per_second"])
            ratios["drain batched / MongoDB bulk insert ceiling (same operations)"] = value
        value = ratio(batched, drain["one_per_write"]["per_second"])
        ratios["drain batched / one task per write"] = value
        check("worker drain batched / one task per write", value, 10, True)
    for lag in results.get("lag", []):
        check(
            f"replication lag p99 at {lag['target_rate']:g} writes/s, published by {lag['publisher']} (ms)",
            lag["p99_ms"],
            1000,
            False,
            " ms",
        )
    return ratios, targets


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [
        f"Run {meta['timestamp']} ({'quick' if meta['quick'] else 'full'}), {meta['cpus']} CPUs, "
        f"SQL: {meta['sql']}, broker: {meta['broker']}, MongoDB: {meta['mongo']}.",
        "",
        f"POST /tareas, {meta['requests']} requests at concurrency {meta['concurrency']} "
        "(one `dualwrite serve` process per mode, httpx clients):",
        "",
        "| mode | MongoDB latency | p50 ms | p95 ms | p99 ms | req/s | errors | p50 vs sql-only "
        "| API CPU ms/request | relay CPU ms/request |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    sql = _post(results, "sql-only", 0)
    for row in results["post"]:
        delay = "n/a" if row["mode"] == "sql-only" else f"{row['mongo_delay_ms']:g} ms"
        vs = f"{ratio(row['p50_ms'], sql['p50_ms']):.2f}x" if sql else ""
        lines.append(
            f"| {row['mode']} | {delay} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | "
            f"{row['throughput_rps']} | {row['errors']} | {vs} | {row.get('api_cpu_ms_per_request', '')} | "
            f"{row.get('relay_cpu_ms_per_request', '')} |"
        )
    lines += ["", "| replication and ceilings | value |", "| --- | ---: |"]
    if drain := results.get("drain"):
        lines.append(
            f"| worker drain, tasks of {drain['batched']['batch']} events | "
            f"{drain['batched']['per_second']} writes/s |"
        )
        lines.append(
            f"| worker drain, one task per write | {drain['one_per_write']['per_second']} writes/s |"
        )
    if ceilings := results.get("ceilings"):
        lines.append(
            f"| raw MongoDB bulk_write upserts (ceiling) | {ceilings['mongo_bulk_upserts_per_second']}/s |"
        )
        if "mongo_bulk_inserts_per_second" in ceilings:
            lines.append(
                "| raw MongoDB bulk_write inserts (what the replica sends for new Tareas) | "
                f"{ceilings['mongo_bulk_inserts_per_second']}/s |"
            )
        lines.append(f"| raw SQL inserts, one per commit | {ceilings['sql_inserts_per_second_single']}/s |")
        lines.append(f"| raw SQL inserts, 500 per commit | {ceilings['sql_inserts_per_second_batched']}/s |")
    for lag in results.get("lag", []):
        lines.append(
            f"| replication lag at {lag['achieved_rate']} writes/s (target {lag['target_rate']:g}), "
            f"published by {lag['publisher']} | p50 {lag['p50_ms']} ms, p99 {lag['p99_ms']} ms |"
        )
    if rec := results.get("reconcile"):
        lines.append(f"| reconcile {rec['rows']} rows ({rec['method']}) | {rec['seconds']} s |")
    lines += ["", "| target | value | bound | met |", "| --- | ---: | --- | --- |"]
    for target in results["targets"]:
        lines.append(
            f"| {target['target']} | {target['value']} | {target['bound']} | "
            f"{'yes' if target['met'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(21, 4.8))
    post = results["post"]
    labels = [row["label"] for row in post]
    xs = range(len(post))
    width = 0.27
    for offset, key in ((-width, "p50_ms"), (0.0, "p95_ms"), (width, "p99_ms")):
        axes[0].bar([x + offset for x in xs], [row[key] for row in post], width, label=key.replace("_ms", ""))
    axes[0].set_xticks(list(xs), labels, rotation=20, ha="right")
    axes[0].set_ylabel("ms")
    axes[0].set_title("POST /tareas latency")
    axes[0].legend()
    axes[1].bar(labels, [row["throughput_rps"] for row in post], color="tab:green")
    axes[1].set_xticks(list(xs), labels, rotation=20, ha="right")
    axes[1].set_ylabel("requests/s")
    axes[1].set_title(f"POST throughput at concurrency {results['meta']['concurrency']}")
    bars: dict[str, float] = {}
    if ceilings := results.get("ceilings"):
        bars["MongoDB bulk upserts"] = ceilings["mongo_bulk_upserts_per_second"]
        if "mongo_bulk_inserts_per_second" in ceilings:
            bars["MongoDB bulk inserts"] = ceilings["mongo_bulk_inserts_per_second"]
    if drain := results.get("drain"):
        bars["drain, batched"] = drain["batched"]["per_second"]
        bars["drain, 1 task/write"] = drain["one_per_write"]["per_second"]
    if ceilings:
        bars["SQL insert, 1/commit"] = ceilings["sql_inserts_per_second_single"]
    axes[2].bar(list(bars), list(bars.values()), color="tab:purple")
    axes[2].set_xticks(range(len(bars)), list(bars), rotation=20, ha="right")
    axes[2].set_ylabel("writes/s")
    axes[2].set_title("Secondary writes vs ceilings")
    lags = results.get("lag", [])
    lag_labels = [lag["publisher"] for lag in lags]
    lag_xs = range(len(lags))
    for offset, key in ((-0.2, "p50_ms"), (0.2, "p99_ms")):
        heights = [lag[key] for lag in lags]
        axes[3].bar([x + offset for x in lag_xs], heights, 0.4, label=key.replace("_ms", ""))
    axes[3].axhline(1000, color="tab:red", linestyle="--", label="target p99")
    axes[3].set_xticks(list(lag_xs), lag_labels, rotation=20, ha="right")
    axes[3].set_ylabel("ms")
    rate = lags[0]["target_rate"] if lags else 0
    axes[3].set_title(f"Replication lag at {rate:g} writes/s")
    axes[3].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_outputs(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / results["meta"]["timestamp"]
    paths = {
        "json": stem.with_suffix(".json"),
        "md": stem.with_suffix(".md"),
        "png": stem.with_suffix(".png"),
    }
    paths["json"].write_text(json.dumps(results, indent=2, default=str))
    paths["md"].write_text(markdown(results))
    plot(results, paths["png"])
    return paths
