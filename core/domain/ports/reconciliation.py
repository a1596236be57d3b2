"""Ports of reconciliation and backfill: scanning a store by id range, checkpoints."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence

from core.domain.models.reconciliation import BackfillCheckpoint, ChunkChecksum, IdRange, RowDigest
from core.domain.models.tarea import Tarea


class TareaScanner(ABC):
    """Reads one store's live Tareas in id order (byte-wise, identical in both stores).

    Digests come from the shared record mapping, so the SQL and MongoDB scanners hash
    identical bytes for identical Tareas.
    """

    @abstractmethod
    def chunk_bounds(self, chunk_size: int) -> list[str]:
        """Every ``chunk_size``-th id in order: the lower bounds of chunks after the first."""

    @abstractmethod
    def checksums(self, bounds: Sequence[str]) -> Iterator[ChunkChecksum]:
        """Checksums of the ``len(bounds) + 1`` chunks split at ``bounds``, in order.

        Computed from one ordered scan of the store and yielded chunk by chunk, so the
        caller can compare two stores in step with bounded memory.
        """

    @abstractmethod
    def digests(self, id_range: IdRange) -> list[RowDigest]:
        """Per-row digests of the live Tareas in ``id_range``, in id order."""

    @abstractmethod
    def digests_of(self, tarea_ids: Collection[str]) -> dict[str, RowDigest]:
        """Per-row digests of those live Tareas that exist, by id."""

    @abstractmethod
    def stored_versions(self, tarea_ids: Collection[str]) -> dict[str, int]:
        """Highest version held for each id, counting deletion markers (tombstones)."""


class TareaPager(ABC):
    """Pages through the authoritative store's Tareas in id order (for backfill)."""

    @abstractmethod
    def page_after(self, last_id: str | None, limit: int) -> list[Tarea]:
        """Up to ``limit`` Tareas with id greater than ``last_id``, in id order."""

    @abstractmethod
    def count_after(self, last_id: str | None) -> int:
        """How many Tareas have an id greater than ``last_id``."""


class BackfillCheckpoints(ABC):
    """Durable progress of a backfill, so a stopped run resumes where it was."""

    @abstractmethod
    def load(self, name: str) -> BackfillCheckpoint | None:
        """The checkpoint called ``name``, or ``None`` when there is none."""

    @abstractmethod
    def save(self, checkpoint: BackfillCheckpoint) -> None:
        """Create or replace the checkpoint."""

    @abstractmethod
    def clear(self, name: str) -> None:
        """Forget the checkpoint (the next run starts from the first id)."""
