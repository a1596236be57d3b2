"""Content hashes of Tareas for reconciliation, identical for both stores.

Both scanners rebuild the Tarea through the shared mapping and hash its JSON payload,
so equal Tareas give equal bytes whichever store they came from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from core.domain.models.reconciliation import ChunkChecksum, RowDigest
from core.domain.models.tarea import Tarea
from infrastructure.mapping.tarea_mapping import tarea_to_payload


def _canonical_time(value: datetime) -> datetime:
    # MongoDB keeps milliseconds in UTC; a SQL row written outside this service may carry
    # microseconds or another zone. Hash what both stores can represent.
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def row_digest(tarea: Tarea) -> RowDigest:
    """Hash of the Tarea's id, version and every field (canonical JSON, SHA-256)."""
    canonical = dataclasses.replace(
        tarea, created_at=_canonical_time(tarea.created_at), updated_at=_canonical_time(tarea.updated_at)
    )
    payload = json.dumps(tarea_to_payload(canonical), sort_keys=True, separators=(",", ":"))
    return RowDigest(str(tarea.id), tarea.version, hashlib.sha256(payload.encode()).hexdigest())


def chunked_checksums(tareas: Iterable[Tarea], bounds: Sequence[str]) -> Iterator[ChunkChecksum]:
    """One checksum per chunk split at ``bounds`` (a chunk holds ids ``>=`` its lower
    bound and ``<`` the next), from Tareas in id order; empty chunks included."""
    index, rows, combined = 0, 0, hashlib.sha256()
    for tarea in tareas:
        tarea_id = str(tarea.id)
        while index < len(bounds) and tarea_id >= bounds[index]:
            yield ChunkChecksum(rows=rows, digest=combined.hexdigest())
            index, rows, combined = index + 1, 0, hashlib.sha256()
        combined.update(row_digest(tarea).digest.encode())
        rows += 1
    yield ChunkChecksum(rows=rows, digest=combined.hexdigest())
    for _ in range(index, len(bounds)):
        yield ChunkChecksum(rows=0, digest=hashlib.sha256().hexdigest())


def chunk_checksum(tareas: Iterable[Tarea]) -> ChunkChecksum:
    """Count and order-sensitive hash of the row digests (callers iterate in id order)."""
    combined = hashlib.sha256()
    rows = 0
    for tarea in tareas:
        combined.update(row_digest(tarea).digest.encode())
        rows += 1
    return ChunkChecksum(rows=rows, digest=combined.hexdigest())
