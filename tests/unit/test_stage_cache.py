"""The in-process stage cache: cheap per request, fresh within its TTL, never failing."""

from __future__ import annotations

from core.domain.models.migration_stage import MigrationStage, StageChange
from core.domain.models.tarea import utc_now
from infrastructure.migration.stage_store import CachedStageStore
from tests.unit.test_stage_change import InMemoryStageStore


class CountingStore(InMemoryStageStore):
    def __init__(self, stage: MigrationStage | None = None) -> None:
        super().__init__(stage)
        self.reads = 0
        self.down = False

    def current(self) -> MigrationStage | None:
        self.reads += 1
        if self.down:
            raise ConnectionError("database is down")
        return super().current()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def change(to: MigrationStage) -> StageChange:
    return StageChange(None, to, "other process", utc_now())


def test_reads_the_store_once_per_ttl_and_sees_other_processes_changes_after_it() -> None:
    store, clock = CountingStore(MigrationStage.DUAL_WRITE), Clock()
    cached = CachedStageStore(store, ttl_seconds=1.0, clock=clock)
    assert [cached.current() for _ in range(50)] == [MigrationStage.DUAL_WRITE] * 50
    assert store.reads == 1
    store.record(change(MigrationStage.SHADOW))  # another process, straight to the store
    clock.now += 0.5
    assert cached.current() is MigrationStage.DUAL_WRITE
    clock.now += 0.6
    assert cached.current() is MigrationStage.SHADOW
    assert store.reads == 2


def test_a_change_recorded_through_the_cache_is_visible_at_once() -> None:
    store, clock = CountingStore(MigrationStage.DUAL_WRITE), Clock()
    cached = CachedStageStore(store, ttl_seconds=1.0, clock=clock)
    cached.current()
    cached.record(change(MigrationStage.SHADOW))
    assert cached.current() is MigrationStage.SHADOW
    assert store.current() is MigrationStage.SHADOW


def test_an_unreadable_store_keeps_the_last_known_stage_and_is_retried_after_the_ttl() -> None:
    store, clock = CountingStore(MigrationStage.SHADOW), Clock()
    cached = CachedStageStore(store, ttl_seconds=1.0, clock=clock)
    cached.current()
    store.down = True
    clock.now += 2
    assert cached.current() is MigrationStage.SHADOW
    assert cached.current() is MigrationStage.SHADOW
    assert store.reads == 2  # one failed attempt per TTL, not one per call
    store.down = False
    clock.now += 2
    assert cached.current() is MigrationStage.SHADOW
    assert store.reads == 3
