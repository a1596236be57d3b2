"""Prometheus metrics of the staged migration."""

from __future__ import annotations

from prometheus_client import Counter

SHADOW_READS = Counter(
    "dualwrite_shadow_reads",
    "Shadow reads compared with the authoritative answer, by result (match, mismatch, stale, error).",
    ["result"],
)
SHADOW_READS_DROPPED = Counter(
    "dualwrite_shadow_reads_dropped",
    "Shadow reads skipped because the shadow pool was saturated.",
)
READS_BY_SOURCE = Counter(
    "dualwrite_reads",
    "Reads of one Tarea by the store that answered and why (primary, fallback, min_version).",
    ["source", "reason"],
)
