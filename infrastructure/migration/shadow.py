"""Shadow reads: compare the replica with the authoritative answer, off the request path."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.application.shadow_read import CompararLecturaSombraUseCase
from core.domain.models.shadow_read import FieldDifference, ShadowMismatch, ShadowResult
from core.domain.models.tarea import Tarea
from core.domain.ports.shadow_read import ShadowRecorder, TareaComparator
from infrastructure.mapping.tarea_mapping import FIELDS, as_utc, tarea_to_payload
from infrastructure.migration.metrics import SHADOW_READS, SHADOW_READS_DROPPED
from infrastructure.migration.tables import shadow_mismatches
from infrastructure.sqlalchemy.engine import translate_sql_errors

logger = logging.getLogger(__name__)


def _to_millis(value: datetime) -> datetime:
    value = as_utc(value)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class PayloadComparator(TareaComparator):
    """Compares the shared mapping's JSON payloads, with datetimes cut to milliseconds
    (MongoDB's precision), so representation details of a store never count."""

    @staticmethod
    def normalise(tarea: Tarea) -> dict[str, Any]:
        payload = tarea_to_payload(tarea)
        payload["created_at"] = _to_millis(tarea.created_at).isoformat()
        payload["updated_at"] = _to_millis(tarea.updated_at).isoformat()
        return payload

    def differences(self, authoritative: Tarea, replica: Tarea) -> tuple[FieldDifference, ...]:
        left, right = self.normalise(authoritative), self.normalise(replica)
        return tuple(
            FieldDifference(name, left[name], right[name]) for name in FIELDS if left[name] != right[name]
        )


class SqlShadowRecorder(ShadowRecorder):
    """Counts outcomes in Prometheus and keeps the last ``keep_last`` mismatches in SQL,
    so an operator sees the samples of every API process in one place."""

    def __init__(self, engine: Engine, keep_last: int = 200) -> None:
        self._engine = engine
        self._keep_last = keep_last

    def count(self, result: ShadowResult) -> None:
        SHADOW_READS.labels(result.value).inc()

    def keep(self, mismatch: ShadowMismatch) -> None:
        differences = [
            {"field": d.field, "authoritative": d.authoritative, "replica": d.replica}
            for d in mismatch.differences
        ]
        with translate_sql_errors(), self._engine.begin() as conn:
            result = conn.execute(
                shadow_mismatches.insert().values(
                    tarea_id=str(mismatch.tarea_id), differences=differences, detected_at=mismatch.detected_at
                )
            )
            assert result.inserted_primary_key is not None
            newest = int(result.inserted_primary_key[0])
            conn.execute(shadow_mismatches.delete().where(shadow_mismatches.c.id <= newest - self._keep_last))

    def recent(self, limit: int = 50) -> list[ShadowMismatch]:
        query = sa.select(shadow_mismatches).order_by(shadow_mismatches.c.id.desc()).limit(limit)
        with translate_sql_errors(), self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            ShadowMismatch(
                id=int(row["id"]),
                tarea_id=UUID(row["tarea_id"]),
                differences=tuple(
                    FieldDifference(d["field"], d["authoritative"], d["replica"]) for d in row["differences"]
                ),
                detected_at=as_utc(row["detected_at"]),
            )
            for row in rows
        ]


class ShadowReader:
    """Runs sampled shadow comparisons in a small pool, never on the request's path.

    At most ``max_pending`` comparisons wait or run at once; beyond that a shadow read
    is dropped (and counted), so a slow replica can never pile up work or slow the API.
    """

    def __init__(
        self,
        compare: CompararLecturaSombraUseCase,
        sample_rate: float,
        *,
        max_workers: int = 2,
        max_pending: int = 32,
        sampler: Callable[[], float] = random.random,
    ) -> None:
        self._compare = compare
        self._sample_rate = sample_rate
        self._sampler = sampler
        self._slots = threading.BoundedSemaphore(max_pending)
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ShadowRead")

    def submit(self, tarea_id: UUID, authoritative: Tarea | None) -> bool:
        """Schedule a comparison if sampled and there is room; return whether it was."""
        if self._sample_rate <= 0 or self._sampler() >= self._sample_rate:
            return False
        if not self._slots.acquire(blocking=False):
            SHADOW_READS_DROPPED.inc()
            return False
        try:
            self._executor.submit(self._run, tarea_id, authoritative)
        except RuntimeError:  # shut down
            self._slots.release()
            return False
        return True

    def _run(self, tarea_id: UUID, authoritative: Tarea | None) -> None:
        try:
            self._compare.execute(tarea_id, authoritative)
        except Exception as exc:  # e.g. the sample store is down; the comparison was counted
            logger.warning(
                "⚠️ Shadow comparison failed", extra={"tarea_id": str(tarea_id), "error": repr(exc)}
            )
        finally:
            self._slots.release()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
