"""Prometheus metrics (``dualwrite_`` prefix, base units, no per-id labels).

Counters and histograms live in the process that does the work; backlog, lag and
dead-letter gauges are read from the outbox at scrape time (see ``outbox_collector``).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WRITE_DURATION = Histogram(
    "dualwrite_write_duration_seconds",
    "Duration of a write to one store.",
    ["store", "mode"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SECONDARY_WRITES = Counter(
    "dualwrite_secondary_writes_total",
    "Writes to the secondary store, by result (ok, failed, queued, publish_failed, applied, stale, dead).",
    ["mode", "result"],
)
READ_FALLBACKS = Counter(
    "dualwrite_read_fallbacks_total",
    "Reads answered by the fallback store because the primary failed or missed.",
    ["operation", "reason"],
)
REPLICATION_BATCH_SIZE = Histogram(
    "dualwrite_replication_batch_events",
    "Events per replication task.",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
