"""Builds the staged-migration parts of one process from the container's parts."""

from __future__ import annotations

import time
from functools import cached_property
from typing import TYPE_CHECKING

from core.application.backfill import BackfillUseCase
from core.application.barrer_replica import BarrerReplicaUseCase
from core.application.cambiar_etapa import CambiarEtapaUseCase
from core.application.shadow_read import CompararLecturaSombraUseCase
from core.domain.models.migration_stage import MigrationStage, StagePlan, Store
from core.domain.ports.replication import ReplicaWriter
from core.domain.ports.tarea_repository import TareaRepository
from infrastructure.dual.repository.tarea_repository import DualTareaRepository
from infrastructure.migration.mongo_pager import MongoTareaPager
from infrastructure.migration.mongo_primary_repository import MongoPrimaryTareaRepository
from infrastructure.migration.replica_router import ReplicaRouter
from infrastructure.migration.replication_lag import CachedLag
from infrastructure.migration.shadow import PayloadComparator, ShadowReader, SqlShadowRecorder
from infrastructure.migration.sql_replica import MongoStateReader, SqlReplicaWriter
from infrastructure.migration.stage_store import CachedStageStore, SqlStageStore
from infrastructure.migration.staged_repository import StagedTareaRepository
from infrastructure.migration.write_fence import WriteFence
from infrastructure.mongo.repository.tarea_scan import MongoTareaScanner
from infrastructure.settings import DualWriteMode, OrmBackend, PrimaryStore, Settings
from infrastructure.sqlalchemy.operations_store import SqlBackfillCheckpoints
from infrastructure.sqlalchemy.repository.tarea_scan import SqlTareaScanner

if TYPE_CHECKING:
    from infrastructure.container import Container

STAGE_FOR_ORM = {
    OrmBackend.SQLALCHEMY: MigrationStage.SQL_ONLY,
    OrmBackend.DUAL: MigrationStage.DUAL_WRITE,
    OrmBackend.MONGO: MigrationStage.MONGO_ONLY,
}
# Extra wait after the stage cache TTL before a backfill scans, for requests that read
# the old stage just before it expired and are still writing.
PROPAGATION_MARGIN_SECONDS = 0.5


def default_stage(settings: Settings) -> MigrationStage:
    """The stage the seed's ``ORM`` setting amounts to, in force until one is set."""
    return STAGE_FOR_ORM[settings.orm]


def legacy_plan(settings: Settings) -> StagePlan:
    """What the ``ORM``-selected repository does, described as a stage plan."""
    plan = default_stage(settings).plan
    if settings.orm is OrmBackend.DUAL and settings.dual_primary is PrimaryStore.MONGO:
        return StagePlan(authoritative=plan.authoritative, replica=plan.replica, read=Store.MONGO)
    return plan


class MigrationWiring:
    """The stage store, the staged repository and its writers, the replica router,
    shadow reads and the read lag of one process. Parts are built on first use, so a
    stage that never needs MongoDB (or the broker) never connects to it."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self._settings = container.settings

    # -- stage -----------------------------------------------------------------------
    @cached_property
    def stage_store(self) -> CachedStageStore:
        return CachedStageStore(SqlStageStore(self._container.engine), self._settings.stage_cache_seconds)

    def current_stage(self) -> MigrationStage:
        return self.stage_store.current() or default_stage(self._settings)

    def cambiar_etapa(self) -> CambiarEtapaUseCase:
        return CambiarEtapaUseCase(
            store=self.stage_store,
            outbox=self._container.outbox_queries,
            default_stage=default_stage(self._settings),
            reconcile_runs=self._container.reconcile_runs,
            backfill=self.backfill,
            wait_for_propagation=self.wait_for_propagation,
        )

    def wait_for_propagation(self) -> None:
        """Until every process has re-read the stage (their caches have expired)."""
        time.sleep(self._settings.stage_cache_seconds + PROPAGATION_MARGIN_SECONDS)

    def backfill(self, stage: MigrationStage) -> int:
        """Bring ``stage``'s new replica level with its authoritative store: copy every
        live Tarea, then sweep out what was deleted while it was not replicated."""
        container, batch = self._container, self._settings.backfill_batch_size
        checkpoints = SqlBackfillCheckpoints(container.engine)
        sql_pages = SqlTareaScanner(container.engine)
        collection = container.mongo_repository.collection
        if stage.plan.replica is Store.SQL:
            mongo_pages = MongoTareaPager(collection)
            copy = BackfillUseCase(mongo_pages, self.sql_replica, checkpoints, "tareas_to_sql")
            sweep = BarrerReplicaUseCase(
                sql_pages, MongoTareaScanner(collection).digests_of, self.sql_replica
            )
        else:
            copy = BackfillUseCase(sql_pages, container.mongo_repository, checkpoints, "tareas_to_mongo")
            sweep = BarrerReplicaUseCase(
                MongoTareaPager(collection), sql_pages.digests_of, container.mongo_repository
            )
        copied = copy.execute(batch_size=batch, restart=True).copied
        sweep.execute(batch)
        return copied

    # -- repositories ----------------------------------------------------------------
    def store(self, store: Store) -> TareaRepository:
        if store is Store.SQL:
            return self._container.sql_repository
        return self._container.mongo_repository

    def writer(self, stage: MigrationStage) -> TareaRepository:
        if stage is MigrationStage.SQL_ONLY:
            return self._container.sql_repository
        if stage in (MigrationStage.DUAL_WRITE, MigrationStage.SHADOW):
            return self.queued_dual_repository
        if stage is MigrationStage.MONGO_PRIMARY:
            return self.mongo_primary_repository
        return self._container.mongo_repository

    @cached_property
    def queued_dual_repository(self) -> TareaRepository:
        """SQL and its outbox in one transaction, MongoDB through the queue."""
        settings, container = self._settings, self._container
        configured_alike = (
            settings.orm is OrmBackend.DUAL
            and settings.dual_write_mode is DualWriteMode.QUEUED
            and settings.dual_primary is PrimaryStore.SQL
        )
        if configured_alike:
            return container.tarea_repository
        return DualTareaRepository(
            sql_repository=container.sql_repository,
            mongo_repository=container.mongo_repository,
            mode=DualWriteMode.QUEUED,
            primary=PrimaryStore.SQL,
            outbox=container.outbox,
            publisher=container.publisher,
        )

    @cached_property
    def mongo_primary_repository(self) -> MongoPrimaryTareaRepository:
        container = self._container
        return MongoPrimaryTareaRepository(
            container.mongo_repository, container.engine, container.outbox, container.publisher
        )

    @cached_property
    def staged_repository(self) -> StagedTareaRepository:
        return StagedTareaRepository(
            stage=self.stage_store.current,
            legacy=lambda: self._container.tarea_repository,
            legacy_plan=legacy_plan(self._settings),
            stores=self.store,
            writers=self.writer,
            shadow=lambda: self.shadow_reader,
            fence=WriteFence(self._container.engine).check,
        )

    # -- replication -----------------------------------------------------------------
    @cached_property
    def sql_replica(self) -> SqlReplicaWriter:
        container = self._container
        return SqlReplicaWriter(container.engine, MongoStateReader(container.mongo_repository.collection))

    def replica(self, store: Store) -> ReplicaWriter:
        return self.sql_replica if store is Store.SQL else self._container.mongo_repository

    @cached_property
    def replica_router(self) -> ReplicaRouter:
        return ReplicaRouter(self.replica)

    @cached_property
    def lag(self) -> CachedLag:
        return CachedLag(self._container.outbox_queries, self._settings.stage_cache_seconds)

    # -- shadow reads ----------------------------------------------------------------
    @cached_property
    def shadow_recorder(self) -> SqlShadowRecorder:
        return SqlShadowRecorder(self._container.engine, self._settings.shadow_keep_mismatches)

    @cached_property
    def shadow_reader(self) -> ShadowReader:
        compare = CompararLecturaSombraUseCase(
            self._container.mongo_repository, PayloadComparator(), self.shadow_recorder
        )
        return ShadowReader(
            compare, self._settings.shadow_sample_rate, max_workers=self._settings.shadow_max_workers
        )

    def close(self) -> None:
        if "shadow_reader" in self.__dict__:
            self.shadow_reader.shutdown()
