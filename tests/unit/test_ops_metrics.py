"""The scrape-time outbox collector and the shipped Prometheus alert rules."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import yaml
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from core.domain.models.operations import OutboxStats
from core.domain.models.reconciliation import Drift, DriftKind, ReconcileReport
from core.domain.models.tarea import utc_now
from infrastructure.observability import metrics as _process_metrics  # registers the process metrics
from infrastructure.observability.outbox_collector import METRIC_NAMES, OutboxCollector
from tests.support.ops_fakes import InMemoryRuns
from tests.unit.test_ops_use_cases import FixedStats

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
OUTBOX_STATES = {"waiting", "in_flight", "retrying", "dead"}


def scrape(collector: OutboxCollector) -> dict[str, float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    samples = {}
    for line in generate_latest(registry).decode().splitlines():
        if not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_collector_reports_lag_backlog_dead_letters_and_last_drift():
    now = utc_now()
    stats = OutboxStats(1, 2, 3, 4, oldest_pending_at=now - timedelta(seconds=90), last_applied_at=now)
    runs = InMemoryRuns()
    report = ReconcileReport(started_at=now, finished_at=now)
    report.drift = [Drift("a", DriftKind.MISSING, 1, None), Drift("b", DriftKind.STALE, 2, 1)]
    runs.save(report)

    samples = scrape(OutboxCollector(FixedStats(stats), runs, clock=lambda: now))

    assert samples["dualwrite_replication_lag_seconds"] == 90
    assert samples['dualwrite_outbox_events{status="retrying"}'] == 3
    assert samples["dualwrite_dead_letters"] == 4
    assert samples['dualwrite_reconcile_drift_documents{kind="missing"}'] == 1
    assert samples['dualwrite_reconcile_drift_documents{kind="extra"}'] == 0
    assert samples["dualwrite_outbox_up"] == 1


class BrokenStats(FixedStats):
    def stats(self) -> OutboxStats:
        raise ConnectionError("sql down")


def test_collector_answers_with_up_0_when_the_outbox_cannot_be_read():
    samples = scrape(OutboxCollector(BrokenStats(None), InMemoryRuns()))  # type: ignore[arg-type]
    assert samples == {"dualwrite_outbox_up": 0}


def known_metrics() -> set[str]:
    names = set(METRIC_NAMES)
    for metric in REGISTRY.collect():
        names.update(sample.name for sample in metric.samples)
        names.add(metric.name)
    return {n for n in names if n.startswith("dualwrite_")}


def test_alert_rules_parse_and_reference_only_exported_metrics_and_labels():
    assert _process_metrics.SECONDARY_WRITES is not None
    rules = [
        rule
        for group in yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    ]
    known = known_metrics()
    alerts = {rule["alert"] for rule in rules}

    assert {
        "DualwriteReplicationLagHigh",
        "DualwriteOutboxBacklogGrowing",
        "DualwriteDeadLetters",
        "DualwriteReconcileDrift",
    } <= alerts
    for rule in rules:
        expr = rule["expr"]
        used = set(re.findall(r"\bdualwrite_[a-z_]+\b", expr))
        assert used, rule["alert"]
        assert used <= known, (rule["alert"], used - known)
        assert expr.count("(") == expr.count(")") and expr.count("[") == expr.count("]")
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
        assert rule["annotations"]["summary"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s"))
        for value in re.findall(r'status!?="([a-z_]+)"', expr):
            assert value in OUTBOX_STATES
        for value in re.findall(r'kind!?="([a-z_]+)"', expr):
            assert value in {k.value for k in DriftKind}


def test_prometheus_config_scrapes_the_api_and_loads_the_rules():
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert any(Path(f).name == "alerts.yml" for f in config["rule_files"])
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "dualwrite-api"]
    assert job["metrics_path"] == "/metrics"
