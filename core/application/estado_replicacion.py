"""Use case: how far the replica lags and what is waiting, retrying or dead."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from core.domain.errors import StoreUnavailableError
from core.domain.models.operations import ReplicationStatus, StoreCount, WorkerHealth
from core.domain.models.tarea import utc_now
from core.domain.ports.operations import OutboxQueries, WorkerProbe
from core.domain.ports.tarea_repository import TareaRepository

logger = logging.getLogger(__name__)


class EstadoReplicacionUseCase:
    """Gather the replication status from the outbox, the workers and each store.

    The outbox lives in the authoritative SQL database, so an unreachable SQL database
    raises :class:`StoreUnavailableError`. A store that cannot be counted, or workers
    that do not answer, are reported as such instead: status must work when things
    are broken, that is when operators need it.
    """

    def __init__(
        self,
        queries: OutboxQueries,
        stores: Mapping[str, TareaRepository],
        probe: WorkerProbe | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._queries = queries
        self._stores = stores
        self._probe = probe
        self._clock = clock

    def execute(self) -> ReplicationStatus:
        now = self._clock()
        stats = self._queries.stats()
        lag = (now - stats.oldest_pending_at).total_seconds() if stats.oldest_pending_at else 0.0
        workers = self._probe.ping() if self._probe is not None else WorkerHealth(None, 0, "not checked")
        return ReplicationStatus(
            at=now,
            outbox=stats,
            lag_seconds=max(lag, 0.0),
            workers=workers,
            stores=[self._count(name, repository) for name, repository in self._stores.items()],
        )

    @staticmethod
    def _count(name: str, repository: TareaRepository) -> StoreCount:
        try:
            return StoreCount(name, repository.count())
        except StoreUnavailableError as exc:
            logger.warning("Store could not be counted", extra={"store": name, "error": exc.detail})
            return StoreCount(name, None, exc.detail)
