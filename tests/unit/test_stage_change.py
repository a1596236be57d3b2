"""Stage changes: the stage table, guard rails, history and backfill triggering."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import pytest

from core.application.cambiar_etapa import (
    CambiarEtapaCommand,
    CambiarEtapaUseCase,
    CambioDeEtapaRechazadoError,
)
from core.domain.models.migration_stage import MigrationStage, StageChange, Store
from core.domain.models.operations import EventQuery, OutboxEvent, OutboxEventDetail, OutboxStats
from core.domain.models.reconciliation import ReconcileReport, ReconcileSummary
from core.domain.models.tarea import utc_now
from core.domain.ports.operations import OutboxQueries, ReconcileRunStore
from core.domain.ports.stage_store import StageStore

S = MigrationStage


class InMemoryStageStore(StageStore):
    def __init__(self, stage: MigrationStage | None = None) -> None:
        self.changes: list[StageChange] = []
        self._stage = stage

    def current(self) -> MigrationStage | None:
        return self._stage

    def record(self, change: StageChange) -> None:
        self.changes.append(change)
        self._stage = change.to_stage

    def history(self, limit: int = 20) -> list[StageChange]:
        return list(reversed(self.changes))[:limit]


class FixedOutboxQueries(OutboxQueries):
    """Reports the backlog it was given; the guard rails only read ``stats``."""

    def __init__(self, pending: int = 0, dead: int = 0, fail: bool = False) -> None:
        self.pending, self.dead, self.fail = pending, dead, fail

    def stats(self) -> OutboxStats:
        if self.fail:
            raise ConnectionError("database is down")
        return OutboxStats(
            waiting=self.pending,
            in_flight=0,
            retrying=0,
            dead=self.dead,
            oldest_pending_at=None,
            last_applied_at=None,
        )

    def search(self, query: EventQuery, now: datetime, limit: int) -> list[OutboxEvent]:
        raise NotImplementedError

    def detail(self, event_id: int) -> OutboxEventDetail | None:
        raise NotImplementedError

    def delete_dead(self, event_ids: Sequence[int]) -> list[int]:
        raise NotImplementedError

    def tareas_with_pending_events(self, tarea_ids: Collection[str]) -> set[str]:
        raise NotImplementedError


class LastRun(ReconcileRunStore):
    def __init__(self, missing: int = 0) -> None:
        now = utc_now()
        self.summary = ReconcileSummary(now, now, False, missing, 0, 0, 0, 0)

    def save(self, report: ReconcileReport) -> None:
        raise NotImplementedError

    def last(self) -> ReconcileSummary | None:
        return self.summary


def use_case(
    stage: MigrationStage | None = None,
    *,
    pending: int = 0,
    dead: int = 0,
    drift: int = 0,
    default: MigrationStage = S.SQL_ONLY,
    calls: list[str] | None = None,
) -> tuple[CambiarEtapaUseCase, InMemoryStageStore]:
    store = InMemoryStageStore(stage)
    log = calls if calls is not None else []

    def backfill(to: MigrationStage) -> int:
        log.append(f"backfill:{to.plan.replica}")
        return 7

    return (
        CambiarEtapaUseCase(
            store,
            FixedOutboxQueries(pending, dead),
            default,
            LastRun(drift),
            backfill=backfill,
            wait_for_propagation=lambda: log.append("wait"),
        ),
        store,
    )


def move(uc: CambiarEtapaUseCase, to: MigrationStage, force: bool = False):
    return uc.execute(CambiarEtapaCommand(to_stage=to, changed_by="tester", force=force))


def test_stage_plans_follow_the_migration_table() -> None:
    rows = {s: (s.plan.authoritative, s.plan.replica, s.plan.read, s.plan.shadow) for s in S}
    assert rows == {
        S.SQL_ONLY: (Store.SQL, None, Store.SQL, False),
        S.DUAL_WRITE: (Store.SQL, Store.MONGO, Store.SQL, False),
        S.SHADOW: (Store.SQL, Store.MONGO, Store.SQL, True),
        S.MONGO_PRIMARY: (Store.MONGO, Store.SQL, Store.MONGO, False),
        S.MONGO_ONLY: (Store.MONGO, None, Store.MONGO, False),
    }
    assert S.SQL_ONLY.steps_to(S.MONGO_ONLY) == 4
    assert S.SHADOW.steps_to(S.DUAL_WRITE) == 1


def test_one_step_forward_is_recorded_with_who_when_and_from() -> None:
    uc, store = use_case(S.DUAL_WRITE)
    before = utc_now()
    result = move(uc, S.SHADOW)
    assert result.change is not None and store.current() is S.SHADOW
    (change,) = store.changes
    assert (change.from_stage, change.to_stage, change.changed_by, change.forced) == (
        S.DUAL_WRITE,
        S.SHADOW,
        "tester",
        False,
    )
    assert change.changed_at >= before


def test_without_a_recorded_stage_the_configured_one_is_the_starting_point() -> None:
    uc, store = use_case(None, default=S.DUAL_WRITE)
    assert uc.current() is S.DUAL_WRITE
    move(uc, S.SHADOW)
    assert store.changes[0].from_stage is S.DUAL_WRITE


def test_moving_more_than_one_step_is_refused_unless_forced() -> None:
    uc, store = use_case(S.SQL_ONLY)
    with pytest.raises(CambioDeEtapaRechazadoError) as refused:
        move(uc, S.SHADOW)
    assert refused.value.reasons == ["moves 2 stages at once; move one stage at a time"]
    assert store.changes == []
    move(uc, S.SHADOW, force=True)
    (change,) = store.changes
    assert change.forced and change.reasons == ("moves 2 stages at once; move one stage at a time",)


@pytest.mark.parametrize(
    ("backlog", "expected"),
    [
        ((3, 0, 0), "3 replication events are still pending"),
        ((0, 2, 0), "2 replication events are dead-lettered"),
        ((0, 0, 4), "found 4 drifted Tareas"),
    ],
)
def test_moving_forward_past_dual_write_needs_a_drained_replica(
    backlog: tuple[int, int, int], expected: str
) -> None:
    pending, dead, drift = backlog
    uc, store = use_case(S.DUAL_WRITE, pending=pending, dead=dead, drift=drift)
    with pytest.raises(CambioDeEtapaRechazadoError) as refused:
        move(uc, S.SHADOW)
    assert len(refused.value.reasons) == 1 and expected in refused.value.reasons[0]
    assert store.current() is S.DUAL_WRITE


def test_handing_authority_back_to_sql_needs_a_drained_replica_too() -> None:
    uc, _ = use_case(S.MONGO_PRIMARY, pending=1)
    with pytest.raises(CambioDeEtapaRechazadoError):
        move(uc, S.SHADOW)


def test_steps_that_keep_the_authority_and_do_not_advance_are_not_held_by_the_backlog() -> None:
    for start, to in [(S.DUAL_WRITE, S.SQL_ONLY), (S.SHADOW, S.DUAL_WRITE), (S.SQL_ONLY, S.DUAL_WRITE)]:
        uc, store = use_case(start, pending=5, dead=1, drift=1)
        move(uc, to)
        assert store.current() is to


def test_unknown_backlog_refuses() -> None:
    store = InMemoryStageStore(S.DUAL_WRITE)
    uc = CambiarEtapaUseCase(store, FixedOutboxQueries(fail=True), S.SQL_ONLY)
    with pytest.raises(CambioDeEtapaRechazadoError) as refused:
        move(uc, S.SHADOW)
    assert "cannot read the replication backlog" in refused.value.reasons[0]


def test_same_stage_is_a_no_op() -> None:
    uc, store = use_case(S.SHADOW)
    result = move(uc, S.SHADOW)
    assert result.change is None and store.changes == []


@pytest.mark.parametrize(
    ("start", "to", "expected"),
    [
        (S.SQL_ONLY, S.DUAL_WRITE, ["wait", "backfill:mongo"]),
        (S.MONGO_ONLY, S.MONGO_PRIMARY, ["wait", "backfill:sql"]),
        (S.SHADOW, S.MONGO_PRIMARY, []),  # SQL was authoritative until now: already level
        (S.DUAL_WRITE, S.SHADOW, []),
        (S.MONGO_PRIMARY, S.MONGO_ONLY, []),
    ],
)
def test_a_replica_that_starts_is_backfilled_after_the_change_propagated(
    start: MigrationStage, to: MigrationStage, expected: list[str]
) -> None:
    calls: list[str] = []
    uc, _ = use_case(start, calls=calls)
    result = move(uc, to)
    assert calls == expected
    assert result.backfilled == (7 if expected else 0)
