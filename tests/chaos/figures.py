"""The figures each chaos scenario reports, kept as JSON and shown as a Markdown table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.consistency import Snapshot, max_replication_lag
from tests.support.load import LoadReport


@dataclass
class ScenarioFigures:
    scenario: str
    acknowledged: int
    acknowledged_by_op: dict[str, int]
    failed_by_status: dict[str, int]
    in_doubt_creates_committed: int
    replicated_events: int
    max_lag_seconds: float
    converge_seconds: float
    max_request_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def measure(
        cls, scenario: str, report: LoadReport, snapshot: Snapshot, converge_seconds: float, **extra: Any
    ) -> ScenarioFigures:
        failed_titulos = {f.titulo for f in report.failed if f.op == "POST"}
        return cls(
            scenario=scenario,
            acknowledged=len(report.acked),
            acknowledged_by_op=report.acked_by_op(),
            failed_by_status=report.failures_by_status(),
            in_doubt_creates_committed=len(failed_titulos & snapshot.titulos_in_sql()),
            replicated_events=sum(1 for e in snapshot.events if e["status"] == "done"),
            max_lag_seconds=round(max_replication_lag(snapshot), 2),
            converge_seconds=round(converge_seconds, 2),
            max_request_seconds=round(report.max_seconds(), 2),
            extra=extra,
        )

    def summary(self) -> str:
        return (
            f"[chaos] {self.scenario}: acknowledged={self.acknowledged} {self.acknowledged_by_op} "
            f"failed={self.failed_by_status or 0} in_doubt_committed={self.in_doubt_creates_committed} "
            f"replicated={self.replicated_events} max_lag={self.max_lag_seconds}s "
            f"converged_in={self.converge_seconds}s max_request={self.max_request_seconds}s {self.extra}"
        )


def append_figures(path: Path, figures: ScenarioFigures) -> None:
    """Add one scenario's figures to the JSON list at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    existing: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
    existing.append(asdict(figures))
    path.write_text(json.dumps(existing, indent=2, default=str))


def markdown_table(rows: list[dict[str, Any]]) -> str:
    header = (
        "| scenario | writes acknowledged | failed (by status) | failed but committed "
        "| replicated events | max lag (s) | converged in (s) | slowest request (s) |"
    )
    lines = [header, "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        failed = ", ".join(f"{status}: {n}" for status, n in sorted(row["failed_by_status"].items())) or "0"
        lines.append(
            f"| {row['scenario']} | {row['acknowledged']} | {failed} | {row['in_doubt_creates_committed']} "
            f"| {row['replicated_events']} "
            f"| {row['max_lag_seconds']} | {row['converge_seconds']} | {row['max_request_seconds']} |"
        )
    return "\n".join(lines)
