"""Use case: move the migration to another stage, with guard rails."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from core.domain.errors import DualWriteError
from core.domain.models.migration_stage import MigrationStage, StageChange
from core.domain.models.tarea import utc_now
from core.domain.ports.operations import OutboxQueries, ReconcileRunStore
from core.domain.ports.stage_store import StageStore

logger = logging.getLogger(__name__)


class CambioDeEtapaRechazadoError(DualWriteError):
    """A stage change broke a guard rail and was not forced."""

    def __init__(self, from_stage: MigrationStage, to_stage: MigrationStage, reasons: list[str]) -> None:
        super().__init__(f"moving from {from_stage} to {to_stage} refused: {'; '.join(reasons)}")
        self.from_stage = from_stage
        self.to_stage = to_stage
        self.reasons = reasons


@dataclass(frozen=True)
class CambiarEtapaCommand:
    """Input of :class:`CambiarEtapaUseCase`; ``force`` overrides the guard rails."""

    to_stage: MigrationStage
    changed_by: str
    force: bool = False


@dataclass(frozen=True)
class CambioDeEtapa:
    """Outcome of a stage change: the recorded change (``None`` when already there)
    and how many Tareas were queued to backfill a replica that starts with this stage."""

    from_stage: MigrationStage
    to_stage: MigrationStage
    change: StageChange | None
    backfilled: int = 0


class CambiarEtapaUseCase:
    """Change the stage every process reads, refusing risky moves unless forced.

    Guard rails:

    * one stage at a time, so every intermediate stage gets its chance to show problems;
    * moving forward past ``dual_write``, or to a stage whose authoritative store is
      the other one, needs an empty outbox backlog, no dead letters and no drift in
      the last reconcile run: the store that takes over must already hold every
      acknowledged write.

    When the new stage starts replicating to a store that was not kept up to date
    before (``sql_only`` -> ``dual_write``, ``mongo_only`` -> ``mongo_primary``), the
    replica is backfilled once the change has reached every process, so no write can
    slip between the scan and the switch: every live Tarea of the authoritative store
    is copied and what it deleted meanwhile is removed. The replica's version guard
    makes that idempotent and safe beside live replication.
    """

    def __init__(
        self,
        store: StageStore,
        outbox: OutboxQueries,
        default_stage: MigrationStage,
        reconcile_runs: ReconcileRunStore | None = None,
        backfill: Callable[[MigrationStage], int] | None = None,
        wait_for_propagation: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._reconcile_runs = reconcile_runs
        self._default_stage = default_stage
        self._backfill = backfill
        self._wait_for_propagation = wait_for_propagation or (lambda: None)

    def current(self) -> MigrationStage:
        """The stage in force: the recorded one, else the one the configuration implies."""
        return self._store.current() or self._default_stage

    def execute(self, command: CambiarEtapaCommand) -> CambioDeEtapa:
        from_stage = self.current()
        to_stage = command.to_stage
        if from_stage is to_stage:
            return CambioDeEtapa(from_stage=from_stage, to_stage=to_stage, change=None)
        reasons = self.refusals(from_stage, to_stage)
        if reasons and not command.force:
            raise CambioDeEtapaRechazadoError(from_stage, to_stage, reasons)
        change = StageChange(
            from_stage=from_stage,
            to_stage=to_stage,
            changed_by=command.changed_by,
            changed_at=utc_now(),
            forced=bool(reasons),
            reasons=tuple(reasons),
        )
        self._store.record(change)
        logger.warning(
            "Migration stage changed",
            extra={
                "from_stage": from_stage.value,
                "to_stage": to_stage.value,
                "changed_by": command.changed_by,
                "forced": change.forced,
            },
        )
        backfilled = 0
        if self._backfill is not None and self._starts_replica(from_stage, to_stage):
            self._wait_for_propagation()
            backfilled = self._backfill(to_stage)
        return CambioDeEtapa(from_stage=from_stage, to_stage=to_stage, change=change, backfilled=backfilled)

    def refusals(self, from_stage: MigrationStage, to_stage: MigrationStage) -> list[str]:
        """Why moving from ``from_stage`` to ``to_stage`` is unsafe now (empty = safe)."""
        reasons: list[str] = []
        steps = from_stage.steps_to(to_stage)
        if steps > 1:
            reasons.append(f"moves {steps} stages at once; move one stage at a time")
        if self._needs_drained_replica(from_stage, to_stage):
            reasons.extend(self._backlog_reasons())
        return reasons

    @staticmethod
    def _needs_drained_replica(from_stage: MigrationStage, to_stage: MigrationStage) -> bool:
        forward_past_dual_write = (
            to_stage.position > from_stage.position and to_stage.position > MigrationStage.DUAL_WRITE.position
        )
        authority_moves = from_stage.plan.authoritative is not to_stage.plan.authoritative
        return forward_past_dual_write or authority_moves

    @staticmethod
    def _starts_replica(from_stage: MigrationStage, to_stage: MigrationStage) -> bool:
        replica = to_stage.plan.replica
        return replica is not None and replica not in (
            from_stage.plan.replica,
            from_stage.plan.authoritative,
        )

    def _backlog_reasons(self) -> list[str]:
        try:
            stats = self._outbox.stats()
            last_run = self._reconcile_runs.last() if self._reconcile_runs is not None else None
        except Exception as exc:  # unknown health is not a healthy replica
            return [f"cannot read the replication backlog: {exc}"]
        reasons = []
        if stats.pending:
            reasons.append(f"{stats.pending} replication events are still pending; wait for the replica")
        if stats.dead:
            reasons.append(f"{stats.dead} replication events are dead-lettered; replay or resolve them first")
        if last_run is not None and (drift := last_run.missing + last_run.extra + last_run.stale):
            reasons.append(
                f"the last reconcile run ({last_run.finished_at.isoformat()}) found {drift} drifted Tareas; "
                "repair them and reconcile again"
            )
        return reasons
