"""The staged repository: delegation per stage, fallback, min_version, fence, shadow."""

from __future__ import annotations

from uuid import UUID

import pytest

from core.domain.errors import StoreUnavailableError
from core.domain.models.migration_stage import MigrationStage, StagePlan, Store
from core.domain.models.tarea import Tarea
from core.domain.ports.tarea_repository import TareaRepository
from infrastructure.migration.read_context import read_context
from infrastructure.migration.staged_repository import StagedTareaRepository
from tests.support.fakes import InMemoryTareaRepository


class Switchable(InMemoryTareaRepository):
    down = False

    def get(self, tarea_id: UUID) -> Tarea | None:
        if self.down:
            raise StoreUnavailableError("x", "down")
        return super().get(tarea_id)


class RecordingShadow:
    def __init__(self) -> None:
        self.submitted: list[tuple[UUID, Tarea | None]] = []

    def submit(self, tarea_id: UUID, authoritative: Tarea | None) -> bool:
        self.submitted.append((tarea_id, authoritative))
        return True


class Harness:
    def __init__(self, stage: MigrationStage | None, legacy_plan: StagePlan | None = None) -> None:
        self.stage = stage
        self.sql, self.mongo, self.legacy = Switchable(), Switchable(), InMemoryTareaRepository()
        self.shadow = RecordingShadow()
        self.fenced: list[tuple[UUID, Store]] = []
        self.blocked = False
        stores: dict[Store, TareaRepository] = {Store.SQL: self.sql, Store.MONGO: self.mongo}
        writers: dict[MigrationStage, TareaRepository] = {
            MigrationStage.SQL_ONLY: self.sql,
            MigrationStage.DUAL_WRITE: self.sql,
            MigrationStage.SHADOW: self.sql,
            MigrationStage.MONGO_PRIMARY: self.mongo,
            MigrationStage.MONGO_ONLY: self.mongo,
        }
        self.repo = StagedTareaRepository(
            stage=lambda: self.stage,
            legacy=lambda: self.legacy,
            legacy_plan=legacy_plan or StagePlan(Store.SQL, None, Store.SQL),
            stores=stores.__getitem__,
            writers=writers.__getitem__,
            shadow=lambda: self.shadow,  # type: ignore[arg-type,return-value]
            fence=self._fence,
        )

    def _fence(self, tarea_id: UUID, store: Store) -> None:
        self.fenced.append((tarea_id, store))
        if self.blocked:
            raise StoreUnavailableError(store.value, "replication pending")


def test_without_a_stage_writes_go_to_the_configured_repository() -> None:
    h = Harness(None)
    tarea = h.repo.save(Tarea.crear("uno"))
    assert h.legacy.get(tarea.id) == tarea and h.sql.get(tarea.id) is None
    assert h.fenced == []


def test_without_a_stage_reads_follow_the_configuration_and_the_seeds_fallback_on_miss() -> None:
    h = Harness(None, legacy_plan=StagePlan(Store.SQL, Store.MONGO, read=Store.MONGO))
    only_in_sql = Tarea.crear("sin replicar")
    h.sql.save(only_in_sql)
    with read_context() as context:
        assert h.repo.get(only_in_sql.id) == only_in_sql
    assert context.header_value() == "sql, fallback"
    with read_context() as context:
        assert h.repo.count() == 0
    assert context.header_value() == "mongo"
    h.sql.down = True  # a miss, then a failing fallback: the miss stands, as in the seed
    with read_context() as context:
        assert h.repo.get(Tarea.crear("ninguna").id) is None
    assert context.header_value() == "mongo"


def test_the_stage_is_read_on_every_call() -> None:
    h = Harness(MigrationStage.DUAL_WRITE)
    first = h.repo.save(Tarea.crear("uno"))
    h.stage = MigrationStage.MONGO_PRIMARY
    second = h.repo.save(Tarea.crear("dos"))
    assert h.sql.get(first.id) == first and h.mongo.get(second.id) == second
    assert h.fenced == [(first.id, Store.SQL), (second.id, Store.MONGO)]
    with read_context() as context:
        assert h.repo.get(second.id) == second
    assert context.header_value() == "mongo"


def test_a_fenced_write_is_refused_and_not_delegated() -> None:
    h = Harness(MigrationStage.SHADOW)
    h.blocked = True
    tarea = Tarea.crear("uno")
    with pytest.raises(StoreUnavailableError):
        h.repo.save(tarea)
    assert h.sql.get(tarea.id) is None


def test_fallback_to_the_replica_on_error_is_reported() -> None:
    h = Harness(MigrationStage.MONGO_PRIMARY)
    tarea = Tarea.crear("uno")
    h.sql.save(tarea)
    h.mongo.down = True
    with read_context() as context:
        assert h.repo.get(tarea.id) == tarea
    assert context.header_value() == "sql, fallback"


def test_no_fallback_to_a_store_the_stage_does_not_maintain() -> None:
    h = Harness(MigrationStage.MONGO_ONLY)
    h.mongo.down = True
    with pytest.raises(StoreUnavailableError):
        h.repo.get(Tarea.crear("uno").id)


def test_a_miss_is_an_answer_not_a_reason_to_fall_back() -> None:
    h = Harness(MigrationStage.DUAL_WRITE)
    deleted_in_sql_not_yet_in_mongo = Tarea.crear("borrada")
    h.mongo.save(deleted_in_sql_not_yet_in_mongo)
    assert h.repo.get(deleted_in_sql_not_yet_in_mongo.id) is None


def test_min_version_reads_the_authority_when_the_read_store_lags_behind_it() -> None:
    h = Harness(None, legacy_plan=StagePlan(Store.SQL, Store.MONGO, read=Store.MONGO))
    h.legacy = h.mongo  # the configured repository reads the MongoDB replica first
    v1 = Tarea.crear("v1")
    h.mongo.save(v1)
    h.sql.save(v1.actualizar(titulo="v2"))  # the client's write, not replicated yet
    with read_context() as context:
        assert h.repo.get(v1.id) == v1
    assert context.header_value() == "mongo"
    with read_context(min_version=2) as context:
        assert h.repo.get(v1.id).titulo == "v2"  # type: ignore[union-attr]
    assert context.header_value() == "sql, min_version"
    with read_context(min_version=1) as context:
        assert h.repo.get(v1.id) == v1
    assert context.header_value() == "mongo"


def test_min_version_on_a_fallback_read_needs_the_authority() -> None:
    h = Harness(MigrationStage.MONGO_PRIMARY)
    v1 = Tarea.crear("v1")
    h.sql.save(v1)  # the replica
    h.mongo.save(v1.actualizar(titulo="v2"))
    h.mongo.down = True
    with read_context(min_version=1) as context:
        assert h.repo.get(v1.id) == v1
    assert context.header_value() == "sql, fallback"
    with read_context(min_version=2), pytest.raises(StoreUnavailableError):
        h.repo.get(v1.id)  # the replica cannot prove the version, the authority is down


def test_shadow_stage_submits_get_reads_for_comparison() -> None:
    h = Harness(MigrationStage.SHADOW)
    tarea = h.repo.save(Tarea.crear("uno"))
    h.repo.get(tarea.id)
    h.stage = MigrationStage.DUAL_WRITE
    h.repo.get(tarea.id)
    assert h.shadow.submitted == [(tarea.id, tarea)]
