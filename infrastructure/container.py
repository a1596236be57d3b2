"""Composition root: builds the object graph from :class:`Settings`.

Nothing is built at import. ``get_container()`` builds on first use and caches one
graph per distinct settings, so a process (or a test) that changes ``ORM`` and calls
again gets a graph for the new settings. The seed's ``get_crear_tarea_use_case()``
and the other getters read from it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

from celery import Celery
from sqlalchemy.engine import Engine

from core.application.actualizar_tarea import ActualizarTareaUseCase
from core.application.aplicar_replicacion import AplicarReplicacionUseCase
from core.application.backfill import BackfillUseCase
from core.application.cambiar_etapa import CambiarEtapaUseCase
from core.application.consultar_eventos import ListarEventosUseCase, ObtenerEventoUseCase
from core.application.crear_tarea import CrearTareaUseCase
from core.application.eliminar_tarea import EliminarTareaUseCase
from core.application.estado_replicacion import EstadoReplicacionUseCase
from core.application.listar_tareas import ListarTareasUseCase
from core.application.obtener_tarea import ObtenerTareaUseCase
from core.application.purgar_eventos import PurgarEventosUseCase, PurgarEventoUseCase
from core.application.reconciliar import ReconciliarUseCase
from core.application.reenviar_eventos import ReplayEventsUseCase
from core.application.reintentar_eventos import ReintentarEventosUseCase, ReintentarEventoUseCase
from core.application.relay_outbox import RelayOutboxUseCase
from core.domain.ports.replication import EventPublisher
from core.domain.ports.tarea_repository import TareaRepository
from infrastructure.dual.repository.tarea_repository import DualTareaRepository
from infrastructure.messaging.batching_publisher import BatchingEventPublisher
from infrastructure.messaging.celery_app import create_celery_app
from infrastructure.messaging.celery_publisher import CeleryEventPublisher
from infrastructure.messaging.relay_handoff import RelayHandoff
from infrastructure.messaging.worker_probe import CeleryWorkerProbe
from infrastructure.migration.wiring import MigrationWiring
from infrastructure.mongo.client import create_mongo_client
from infrastructure.mongo.embedded_server import (
    STATE_FILE,
    ensure_embedded_server,
    is_serving,
    mongo_url_for_port,
)
from infrastructure.mongo.repository.tarea_repository import MongoTareaRepository
from infrastructure.mongo.repository.tarea_scan import MongoTareaScanner
from infrastructure.settings import DualWriteMode, OrmBackend, PublishVia, Settings
from infrastructure.sqlalchemy.engine import create_sql_engine, migrate
from infrastructure.sqlalchemy.operations_store import SqlBackfillCheckpoints, SqlReconcileRuns
from infrastructure.sqlalchemy.outbox.outbox_queries import SqlOutboxQueries
from infrastructure.sqlalchemy.outbox.outbox_store import SqlOutbox
from infrastructure.sqlalchemy.repository.tarea_repository import SqlAlchemyTareaRepository
from infrastructure.sqlalchemy.repository.tarea_scan import SqlTareaScanner

logger = logging.getLogger(__name__)


@dataclass
class Container:
    """The built services of one process. Parts are built on first access, so a
    ``sqlalchemy``-only deployment never touches MongoDB or the broker."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        engine = create_sql_engine(self.settings.resolved_database_url())
        migrate(engine)
        return engine

    @cached_property
    def sql_repository(self) -> SqlAlchemyTareaRepository:
        relay_publishes = self.settings.publish_via is PublishVia.RELAY
        return SqlAlchemyTareaRepository(self.engine, mark_dispatched=not relay_publishes)

    @cached_property
    def mongo_repository(self) -> MongoTareaRepository:
        url = self.settings.mongo_url or ensure_embedded_server(self.settings.mongo_data_dir())
        client = create_mongo_client(url, self.settings.mongo_timeout_ms)
        return MongoTareaRepository(client, self.settings.mongo_db)

    @cached_property
    def outbox(self) -> SqlOutbox:
        return SqlOutbox(self.engine, redispatch_after_seconds=self.settings.relay_redispatch_after_seconds)

    @cached_property
    def celery_app(self) -> Celery:
        return create_celery_app(self.settings)

    @cached_property
    def publisher(self) -> CeleryEventPublisher:
        return CeleryEventPublisher(self.celery_app, self.settings.replication_queue)

    @cached_property
    def dispatch_publisher(self) -> EventPublisher:
        """What a queued write hands its event to: nothing with ``publish_via=relay``
        (the relay publishes), the publisher itself, or with ``publish_linger_ms`` > 0 a
        background batcher that keeps the broker round trip off the request and gives
        the worker multi-event tasks."""
        if self.settings.publish_via is PublishVia.RELAY:
            return RelayHandoff()
        if self.settings.publish_linger_ms <= 0:
            return self.publisher
        return BatchingEventPublisher(
            self.publisher,
            self.outbox.release,
            linger_seconds=self.settings.publish_linger_ms / 1000.0,
            max_batch=self.settings.relay_batch_size,
        )

    @cached_property
    def dual_executor(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=self.settings.dual_max_workers, thread_name_prefix="DualRepo")

    @cached_property
    def tarea_repository(self) -> TareaRepository:
        orm = self.settings.orm
        if orm is OrmBackend.SQLALCHEMY:
            return self.sql_repository
        if orm is OrmBackend.MONGO:
            return self.mongo_repository
        queued = self.settings.dual_write_mode is DualWriteMode.QUEUED
        return DualTareaRepository(
            sql_repository=self.sql_repository,
            mongo_repository=self.mongo_repository,
            mode=self.settings.dual_write_mode,
            primary=self.settings.dual_primary,
            timeout_seconds=self.settings.dual_timeout_seconds,
            executor=self.dual_executor,
            outbox=self.outbox,
            publisher=self.dispatch_publisher if queued else None,
        )

    def readiness_probes(self) -> dict[str, Callable[[], object]]:
        """One callable per store this deployment uses; each raises when unreachable."""
        probes: dict[str, Callable[[], object]] = {}
        if self.settings.orm in (OrmBackend.SQLALCHEMY, OrmBackend.DUAL):
            probes["sql"] = lambda: self.sql_repository.count()
        if self.settings.orm in (OrmBackend.MONGO, OrmBackend.DUAL):
            probes["mongo"] = lambda: self.mongo_repository.ping()
        return probes

    # -- use cases -------------------------------------------------------------------
    def crear_tarea(self) -> CrearTareaUseCase:
        return CrearTareaUseCase(self.migration.staged_repository)

    def obtener_tarea(self) -> ObtenerTareaUseCase:
        return ObtenerTareaUseCase(self.migration.staged_repository)

    def listar_tareas(self) -> ListarTareasUseCase:
        return ListarTareasUseCase(self.migration.staged_repository)

    def actualizar_tarea(self) -> ActualizarTareaUseCase:
        return ActualizarTareaUseCase(self.migration.staged_repository)

    def eliminar_tarea(self) -> EliminarTareaUseCase:
        return EliminarTareaUseCase(self.migration.staged_repository)

    def aplicar_replicacion(self) -> AplicarReplicacionUseCase:
        return AplicarReplicacionUseCase(self.outbox, self.migration.replica_router)

    def relay_outbox(self) -> RelayOutboxUseCase:
        return RelayOutboxUseCase(self.outbox, self.publisher)

    def replay_events(self) -> ReplayEventsUseCase:
        return ReplayEventsUseCase(self.outbox, self.publisher)

    # -- operator tooling ------------------------------------------------------------
    @cached_property
    def outbox_queries(self) -> SqlOutboxQueries:
        return SqlOutboxQueries(self.engine)

    @cached_property
    def reconcile_runs(self) -> SqlReconcileRuns:
        return SqlReconcileRuns(self.engine)

    @cached_property
    def worker_probe(self) -> CeleryWorkerProbe:
        return CeleryWorkerProbe(self.celery_app, self.settings.worker_ping_timeout_seconds)

    def counted_stores(self) -> dict[str, TareaRepository]:
        """The stores ``status`` counts: SQL, and MongoDB when this deployment has one
        (``dual``/``mongo``, a ``MONGO_URL``, or an embedded server already running)."""
        stores: dict[str, TareaRepository] = {}
        if self.settings.orm is not OrmBackend.MONGO:
            stores["sql"] = self.sql_repository
        if self.settings.orm is not OrmBackend.SQLALCHEMY or self._mongo_configured():
            stores["mongo"] = self.mongo_repository
        return stores

    def _mongo_configured(self) -> bool:
        if self.settings.mongo_url:
            return True
        # Only an embedded server that already runs: status must not start one.
        state = self.settings.mongo_data_dir() / STATE_FILE
        try:
            port = int(json.loads(state.read_text())["port"])
        except (OSError, ValueError, KeyError):
            return False
        return is_serving(mongo_url_for_port(port))

    def estado_replicacion(self) -> EstadoReplicacionUseCase:
        return EstadoReplicacionUseCase(self.outbox_queries, self.counted_stores(), self.worker_probe)

    def listar_eventos(self) -> ListarEventosUseCase:
        return ListarEventosUseCase(self.outbox_queries)

    def obtener_evento(self) -> ObtenerEventoUseCase:
        return ObtenerEventoUseCase(self.outbox_queries)

    def reintentar_evento(self) -> ReintentarEventoUseCase:
        return ReintentarEventoUseCase(self.outbox_queries, self.replay_events())

    def reintentar_eventos(self) -> ReintentarEventosUseCase:
        return ReintentarEventosUseCase(self.outbox_queries, self.replay_events())

    def purgar_evento(self) -> PurgarEventoUseCase:
        return PurgarEventoUseCase(self.outbox_queries)

    def purgar_eventos(self) -> PurgarEventosUseCase:
        return PurgarEventosUseCase(self.outbox_queries)

    def reconciliar(self) -> ReconciliarUseCase:
        return ReconciliarUseCase(
            source=SqlTareaScanner(self.engine),
            replica=MongoTareaScanner(self.mongo_repository.collection),
            authoritative=self.sql_repository,
            writer=self.sql_repository,
            outbox=self.outbox,
            publisher=self.publisher,
            queries=self.outbox_queries,
            runs=self.reconcile_runs,
        )

    def backfill(self) -> BackfillUseCase:
        return BackfillUseCase(
            SqlTareaScanner(self.engine), self.mongo_repository, SqlBackfillCheckpoints(self.engine)
        )

    # -- migration stages ------------------------------------------------------------
    @cached_property
    def migration(self) -> MigrationWiring:
        """Stage store, staged repository (what the use cases write and read through;
        it follows the stage an operator sets, else ``ORM``), replica router, shadow reads."""
        return MigrationWiring(self)

    def cambiar_etapa(self) -> CambiarEtapaUseCase:
        return self.migration.cambiar_etapa()

    def close(self) -> None:
        batching = self.__dict__.get("dispatch_publisher")
        if isinstance(batching, BatchingEventPublisher):
            batching.close()  # publish what requests already queued
        if "migration" in self.__dict__:
            self.migration.close()
        if "dual_executor" in self.__dict__:
            self.dual_executor.shutdown(wait=False)
        if "engine" in self.__dict__:
            self.engine.dispose()


def bootstrap(settings: Settings | None = None) -> Container:
    """Build a new container (not cached): the one composition root."""
    return Container(settings or Settings())


_containers: dict[str, Container] = {}
_containers_lock = threading.Lock()


def get_container(settings: Settings | None = None) -> Container:
    """The cached container for the current (or given) settings."""
    settings = settings or Settings()
    key = settings.model_dump_json()
    with _containers_lock:
        container = _containers.get(key)
        if container is None:
            container = _containers[key] = bootstrap(settings)
        return container


def reset_container() -> None:
    """Close and forget every cached container (tests, reconfiguration)."""
    with _containers_lock:
        for container in _containers.values():
            container.close()
        _containers.clear()


def get_crear_tarea_use_case() -> CrearTareaUseCase:
    return get_container().crear_tarea()


def get_obtener_tarea_use_case() -> ObtenerTareaUseCase:
    return get_container().obtener_tarea()


def get_listar_tareas_use_case() -> ListarTareasUseCase:
    return get_container().listar_tareas()


def get_actualizar_tarea_use_case() -> ActualizarTareaUseCase:
    return get_container().actualizar_tarea()


def get_eliminar_tarea_use_case() -> EliminarTareaUseCase:
    return get_container().eliminar_tarea()
