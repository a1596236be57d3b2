"""The Tarea repository that follows the migration stage, read on every call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from core.domain.models.migration_stage import MigrationStage, StagePlan, Store
from core.domain.models.tarea import EstadoTarea, Tarea
from core.domain.ports.tarea_repository import TareaRepository
from infrastructure.migration.metrics import READS_BY_SOURCE
from infrastructure.migration.read_context import ReadContext, current_read_context
from infrastructure.migration.shadow import ShadowReader
from infrastructure.observability.metrics import READ_FALLBACKS

logger = logging.getLogger(__name__)

T = TypeVar("T")


class StagedTareaRepository(TareaRepository):
    """Delegates each call according to the stage in force *at that call*, so an
    operator's stage change reaches running processes without a restart.

    * Writes go to the stage's writer (SQL; the dual repository; MongoDB with SQL
      replicated in reverse; MongoDB), after the ``fence`` has checked that no
      replication into the authoritative store is pending for that Tarea.
    * Reads go to the stage's read store; on error, to the other store if the stage
      keeps it up to date (reported as a fallback). A missing Tarea is an answer, not
      an error: falling back on a miss could resurrect a Tarea deleted in the read
      store whose delete has not reached the replica yet.
    * In the ``shadow`` stage a sample of ``get`` reads is compared with the replica in
      the background.
    * A read asked for with a ``min_version`` (see ``read_context``) that the read store
      has not reached yet is served from the authoritative store.

    Until an operator sets a stage, writes go to ``legacy`` (the repository the ``ORM``
    setting selects, exactly as before stages existed) and reads follow ``legacy_plan``
    with the seed's dual-read rule (the other store also answers a miss), so the
    response can say which store answered.
    """

    def __init__(
        self,
        *,
        stage: Callable[[], MigrationStage | None],
        legacy: Callable[[], TareaRepository],
        legacy_plan: StagePlan,
        stores: Callable[[Store], TareaRepository],
        writers: Callable[[MigrationStage], TareaRepository],
        shadow: Callable[[], ShadowReader] | None = None,
        fence: Callable[[UUID, Store], None] | None = None,
    ) -> None:
        self._stage = stage
        self._legacy = legacy
        self._legacy_plan = legacy_plan
        self._stores = stores
        self._writers = writers
        self._shadow = shadow
        self._fence = fence

    # -- writes ----------------------------------------------------------------------
    def _writer(self, tarea_id: UUID) -> TareaRepository:
        stage = self._stage()
        if stage is None:
            return self._legacy()
        if self._fence is not None:
            self._fence(tarea_id, stage.plan.authoritative)
        return self._writers(stage)

    def save(self, tarea: Tarea) -> Tarea:
        return self._writer(tarea.id).save(tarea)

    def eliminar(self, tarea_id: UUID) -> bool:
        return self._writer(tarea_id).eliminar(tarea_id)

    # -- reads -----------------------------------------------------------------------
    def get_for_update(self, tarea_id: UUID) -> Tarea | None:
        """The current stage's writer decides which copy a change is checked against."""
        stage = self._stage()
        writer = self._legacy() if stage is None else self._writers(stage)
        return writer.get_for_update(tarea_id)

    def get(self, tarea_id: UUID) -> Tarea | None:
        stage = self._stage()
        plan = self._plan(stage)
        # Without a stage, the seed's dual read: a miss in the first store falls back too.
        result, source, fallback = self._read(
            plan, "get", lambda repo: repo.get(tarea_id), fall_back_on_miss=stage is None
        )
        context = current_read_context()
        if context is not None and plan.authoritative is not source and self._too_old(result, context):
            READS_BY_SOURCE.labels(plan.authoritative.value, "min_version").inc()
            context.answered_by(plan.authoritative, min_version=True)
            return self._stores(plan.authoritative).get(tarea_id)
        self._report(source, fallback)
        if plan.shadow and not fallback and self._shadow is not None:
            self._shadow().submit(tarea_id, result)
        return result

    def list(self, *, estado: EstadoTarea | None = None, limit: int = 100, offset: int = 0) -> list[Tarea]:
        return self._read_reported("list", lambda repo: repo.list(estado=estado, limit=limit, offset=offset))

    def count(self, *, estado: EstadoTarea | None = None) -> int:
        return self._read_reported("count", lambda repo: repo.count(estado=estado))

    # -- helpers ---------------------------------------------------------------------
    def _plan(self, stage: MigrationStage | None) -> StagePlan:
        return self._legacy_plan if stage is None else stage.plan

    def _read_reported(self, operation: str, read: Callable[[TareaRepository], T]) -> T:
        result, source, fallback = self._read(self._plan(self._stage()), operation, read)
        self._report(source, fallback)
        return result

    def _read(
        self,
        plan: StagePlan,
        operation: str,
        read: Callable[[TareaRepository], T],
        *,
        fall_back_on_miss: bool = False,
    ) -> tuple[T, Store, bool]:
        """Read ``plan.read``; on error (or on a miss, if asked) read the other store when
        the plan keeps it up to date. Return ``(result, store that answered, fallback)``."""
        other = plan.read.other
        maintained = other in (plan.authoritative, plan.replica)
        try:
            result = read(self._stores(plan.read))
        except Exception as exc:
            if not maintained:
                raise
            logger.warning(f"⚠️ Read from {plan.read} failed; trying {other}", extra={"error": repr(exc)})
            try:
                result = read(self._stores(other))
            except Exception:
                raise exc from None
            if result is None:
                # A miss in the other store proves nothing while this one is unreachable
                # (it may lag): answering "not found" for a Tarea that exists would be a lie.
                raise exc
            READ_FALLBACKS.labels(operation, "error").inc()
            return result, other, True
        if result is None and fall_back_on_miss and maintained:
            try:
                fallback_result = read(self._stores(other))
            except Exception as exc:  # the first store's miss stands
                logger.warning(f"⚠️ Fallback read from {other} failed", extra={"error": repr(exc)})
                return result, plan.read, False
            if fallback_result is not None:
                READ_FALLBACKS.labels(operation, "miss").inc()
                return fallback_result, other, True
        return result, plan.read, False

    @staticmethod
    def _too_old(result: Tarea | None, context: ReadContext) -> bool:
        """Whether the client asked for a version the read store has not reached."""
        if context.min_version is None:
            return False
        return result is None or result.version < context.min_version

    @staticmethod
    def _report(source: Store, fallback: bool) -> None:
        READS_BY_SOURCE.labels(source.value, "fallback" if fallback else "primary").inc()
        context = current_read_context()
        if context is not None:
            context.answered_by(source, fallback=fallback)
