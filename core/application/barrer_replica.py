"""Use case: remove from a replica the Tareas its authoritative store no longer has."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

from core.domain.models.replication import ReplicationEvent
from core.domain.models.tarea import utc_now
from core.domain.ports.reconciliation import TareaPager
from core.domain.ports.replication import ReplicaWriter

logger = logging.getLogger(__name__)

LiveIds = Callable[[Collection[str]], Collection[str]]


class BarrerReplicaUseCase:
    """Walk the replica's live Tareas in id order and delete, through the replica's
    version guard, every one that is not live in the authoritative store.

    A store that was not replicated for a while (``sql_only``, ``mongo_only``) missed
    deletes as well as writes; a backfill copies the writes, this sweep the deletes.
    Each delete carries the replica's version + 1, so it loses to any newer write that
    replication brings meanwhile, and a Tarea created since the page was read is found
    live in the authoritative store (its write commits there before it is replicated).
    """

    def __init__(
        self, replica_pages: TareaPager, authoritative_live: LiveIds, replica: ReplicaWriter
    ) -> None:
        self._pages = replica_pages
        self._authoritative_live = authoritative_live
        self._replica = replica

    def execute(self, batch_size: int = 1000) -> int:
        """Return how many Tareas were deleted from the replica."""
        removed = 0
        last_id: str | None = None
        while True:
            page = self._pages.page_after(last_id, batch_size)
            if not page:
                break
            live = set(self._authoritative_live([str(t.id) for t in page]))
            now = utc_now()
            gone = [ReplicationEvent.delete(t.id, t.version + 1, now) for t in page if str(t.id) not in live]
            if gone:
                removed += self._replica.apply(gone).applied
            last_id = str(page[-1].id)
            if len(page) < batch_size:
                break
        logger.info("Replica sweep finished", extra={"removed": removed})
        return removed
