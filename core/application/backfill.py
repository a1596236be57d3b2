"""Use case: copy every existing SQL row into MongoDB (a database older than dual write).

Batched, resumable and safe while live writes continue: each batch becomes upsert
events of the rows as they are now, applied through the replica's version guard, so a
batch never overwrites a newer version that live replication already wrote, and a
Tarea deleted meanwhile keeps its tombstone (the delete's version is higher). After
each batch the last id copied is stored, so a stopped run resumes after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from core.domain.models.operations import InvalidQueryError
from core.domain.models.reconciliation import BackfillCheckpoint, BackfillProgress, BackfillResult
from core.domain.models.replication import ReplicationEvent
from core.domain.ports.reconciliation import BackfillCheckpoints, TareaPager
from core.domain.ports.replication import ReplicaWriter

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000
MAX_BATCH_SIZE = 10_000
CHECKPOINT_NAME = "tareas"
BackfillProgressCallback = Callable[[BackfillProgress], None]


class BackfillUseCase:
    """Copy SQL rows to the replica in id order, one checkpointed batch at a time."""

    def __init__(
        self,
        source: TareaPager,
        replica: ReplicaWriter,
        checkpoints: BackfillCheckpoints,
        name: str = CHECKPOINT_NAME,
    ) -> None:
        self._source = source
        self._replica = replica
        self._checkpoints = checkpoints
        self._name = name

    def execute(
        self,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        restart: bool = False,
        progress: BackfillProgressCallback | None = None,
        max_batches: int | None = None,
    ) -> BackfillResult:
        """Run until every row is copied (or ``max_batches`` batches were done)."""
        if isinstance(batch_size, bool) or not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise InvalidQueryError("batch_size", f"must be between 1 and {MAX_BATCH_SIZE}")
        if restart:
            self._checkpoints.clear(self._name)
        checkpoint = self._checkpoints.load(self._name) or BackfillCheckpoint(self._name, None, 0, False)
        resumed_from = checkpoint.last_id
        total = checkpoint.copied + self._source.count_after(checkpoint.last_id)
        copied = applied = skipped = batches = 0
        while max_batches is None or batches < max_batches:
            rows = self._source.page_after(checkpoint.last_id, batch_size)
            if not rows:
                checkpoint = BackfillCheckpoint(self._name, checkpoint.last_id, checkpoint.copied, True)
                self._checkpoints.save(checkpoint)
                break
            result = self._replica.apply([ReplicationEvent.upsert(tarea) for tarea in rows])
            checkpoint = BackfillCheckpoint(
                self._name, str(rows[-1].id), checkpoint.copied + len(rows), finished=False
            )
            self._checkpoints.save(checkpoint)
            copied += len(rows)
            applied += result.applied
            skipped += result.stale
            batches += 1
            if progress is not None:
                progress(BackfillProgress(copied=checkpoint.copied, total=total, last_id=checkpoint.last_id))
        logger.info(
            "Backfill run ended",
            extra={"copied": copied, "skipped": skipped, "last_id": checkpoint.last_id},
        )
        return BackfillResult(
            copied=copied,
            applied=applied,
            skipped=skipped,
            batches=batches,
            resumed_from=resumed_from,
            total_copied=checkpoint.copied,
        )
