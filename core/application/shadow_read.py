"""Use case: compare a replica's answer with the authoritative one (Scientist-style)."""

from __future__ import annotations

import logging
from uuid import UUID

from core.domain.models.shadow_read import ShadowMismatch, ShadowOutcome, ShadowResult
from core.domain.models.tarea import Tarea, utc_now
from core.domain.ports.shadow_read import ShadowRecorder, TareaComparator
from core.domain.ports.tarea_repository import TareaRepository

logger = logging.getLogger(__name__)


class CompararLecturaSombraUseCase:
    """Read ``tarea_id`` from the replica, compare it with what the authoritative store
    answered, count the outcome and keep a sample of every mismatch.

    An older version in the replica is replication lag (``stale``), not a defect. So
    is a Tarea present on one side only: a create or a delete the queue has not
    applied yet (a lost one stays visible to reconciliation). Equal versions with
    different fields, or a replica ahead of the authoritative store, are mismatches.
    Never raises: a failing replica is counted as ``error``, because the caller
    already has its answer.
    """

    def __init__(
        self, replica: TareaRepository, comparator: TareaComparator, recorder: ShadowRecorder
    ) -> None:
        self._replica = replica
        self._comparator = comparator
        self._recorder = recorder

    def execute(self, tarea_id: UUID, authoritative: Tarea | None) -> ShadowOutcome:
        try:
            replica = self._replica.get(tarea_id)
        except Exception as exc:
            logger.info("Shadow read failed", extra={"tarea_id": str(tarea_id), "error": repr(exc)})
            outcome = ShadowOutcome(ShadowResult.ERROR)
        else:
            outcome = self._compare(authoritative, replica)
        self._recorder.count(outcome.result)
        if outcome.result is ShadowResult.MISMATCH:
            logger.warning("Shadow read mismatch", extra={"tarea_id": str(tarea_id)})
            self._recorder.keep(ShadowMismatch(tarea_id, outcome.differences, utc_now()))
        return outcome

    def _compare(self, authoritative: Tarea | None, replica: Tarea | None) -> ShadowOutcome:
        if authoritative is None and replica is None:
            return ShadowOutcome(ShadowResult.MATCH)
        if authoritative is None or replica is None:
            return ShadowOutcome(ShadowResult.STALE)
        if replica.version < authoritative.version:
            return ShadowOutcome(ShadowResult.STALE)
        differences = self._comparator.differences(authoritative, replica)
        return ShadowOutcome(ShadowResult.MISMATCH if differences else ShadowResult.MATCH, differences)
