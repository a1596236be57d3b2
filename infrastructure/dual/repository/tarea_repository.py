"""The dual repository: SQL and MongoDB behind one port, for a no-downtime migration.

Two write modes:

* ``threadpool`` (the seed's): both stores are written in parallel by a
  ThreadPoolExecutor. Both ok -> success; one fails -> WARNING and continue (a failed
  MongoDB write is also recorded in the outbox so it is replayed); both fail -> error.
* ``queued``: the primary branch writes SQL and an outbox event in one transaction,
  then hands the event id to the replication queue (Celery). A worker applies it to
  MongoDB; the relay re-sends anything the queue lost.

Reads go to the primary store first and fall back to the other on error or miss.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar
from uuid import UUID

from core.domain.errors import (
    ConflictoDeVersionError,
    DualWriteFailedError,
    StoreUnavailableError,
)
from core.domain.models.replication import ReplicationEvent
from core.domain.models.tarea import EstadoTarea, Tarea, utc_now
from core.domain.ports.replication import EventPublisher, Outbox, OutboxWriter
from core.domain.ports.tarea_repository import TareaRepository
from infrastructure.observability.metrics import READ_FALLBACKS, SECONDARY_WRITES, WRITE_DURATION
from infrastructure.settings import DualWriteMode, PrimaryStore

logger = logging.getLogger(__name__)

T = TypeVar("T")
ParallelResult = tuple[object, BaseException | None, object, BaseException | None]

# The seed's shared pool (its "línea 16"). A repository built by the container gets a
# pool of its own sized by DUALWRITE_DUAL_MAX_WORKERS; this one serves manual injection.
# Creating an executor starts no thread, so this costs nothing at import.
executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="DualRepo")

STORE_NAMES = {"sql": "SQLAlchemy", "mongo": "MongoDB"}


class DualTareaRepository(TareaRepository):
    """Writes both stores and reads primary-first; see the module docstring."""

    def __init__(
        self,
        sql_repository: TareaRepository,
        mongo_repository: TareaRepository,
        *,
        mode: DualWriteMode = DualWriteMode.THREADPOOL,
        primary: PrimaryStore = PrimaryStore.SQL,
        timeout_seconds: float = 10.0,
        executor: ThreadPoolExecutor | None = None,
        outbox: Outbox | None = None,
        publisher: EventPublisher | None = None,
    ) -> None:
        queued_ready = (
            isinstance(sql_repository, OutboxWriter) and outbox is not None and publisher is not None
        )
        if mode is DualWriteMode.QUEUED and not queued_ready:
            raise ValueError("queued mode needs an outbox-capable SQL repository, an outbox and a publisher")
        self._sql_repo = sql_repository
        self._mongo_repo = mongo_repository
        self._mode = mode
        self._primary = primary
        self._timeout = timeout_seconds
        self._executor = executor if executor is not None else globals()["executor"]
        self._outbox = outbox
        self._publisher = publisher

    @property
    def mode(self) -> DualWriteMode:
        return self._mode

    # -- writes ----------------------------------------------------------------------
    def save(self, tarea: Tarea) -> Tarea:
        logger.info(f"🔄 Dual-Write iniciado para tarea {tarea.id}", extra={"tarea_id": str(tarea.id)})
        if self._mode is DualWriteMode.QUEUED:
            assert isinstance(self._sql_repo, OutboxWriter)
            started = time.perf_counter()
            saved, event = self._sql_repo.save_and_record(tarea)
            WRITE_DURATION.labels("sql", self._mode.value).observe(time.perf_counter() - started)
            self._dispatch([event])
            return saved
        _, sql_error, _, mongo_error = self._execute_parallel(
            lambda: self._sql_repo.save(tarea), lambda: self._mongo_repo.save(tarea)
        )
        self._settle("save", tarea.id, sql_error, mongo_error, lambda: ReplicationEvent.upsert(tarea))
        return tarea

    def eliminar(self, tarea_id: UUID) -> bool:
        logger.info(f"🔄 Dual-Delete iniciado para tarea {tarea_id}", extra={"tarea_id": str(tarea_id)})
        if self._mode is DualWriteMode.QUEUED:
            assert isinstance(self._sql_repo, OutboxWriter)
            event = self._sql_repo.eliminar_and_record(tarea_id)
            if event is None:
                return False
            self._dispatch([event])
            return True
        version_before = self._current_version(tarea_id)
        sql_result, sql_error, mongo_result, mongo_error = self._execute_parallel(
            lambda: self._sql_repo.eliminar(tarea_id), lambda: self._mongo_repo.eliminar(tarea_id)
        )
        self._settle(
            "eliminar",
            tarea_id,
            sql_error,
            mongo_error,
            lambda: (
                ReplicationEvent.delete(tarea_id, (version_before or 0) + 1, utc_now())
                if version_before is not None
                else None
            ),
        )
        return bool(sql_result) or bool(mongo_result)

    def _execute_parallel(
        self, sql_func: Callable[[], object], mongo_func: Callable[[], object]
    ) -> ParallelResult:
        """Run both writes at once; return ``(sql_result, sql_error, mongo_result, mongo_error)``.

        Unlike the seed, waits at most ``timeout_seconds``: a hung store becomes an error
        for its branch instead of hanging the request.
        """
        timed = {"sql": sql_func, "mongo": mongo_func}
        futures: dict[str, Future[object]] = {
            store: self._executor.submit(self._timed, store, func) for store, func in timed.items()
        }
        wait(futures.values(), timeout=self._timeout)
        outcome: dict[str, tuple[object, BaseException | None]] = {}
        for store, future in futures.items():
            if not future.done():
                future.cancel()
                outcome[store] = (None, StoreUnavailableError(store, f"timed out after {self._timeout:g}s"))
            elif future.exception() is not None:
                outcome[store] = (None, future.exception())
            else:
                logger.debug(f"✓ Operación {STORE_NAMES[store]} completada")
                outcome[store] = (future.result(), None)
        return outcome["sql"][0], outcome["sql"][1], outcome["mongo"][0], outcome["mongo"][1]

    def _timed(self, store: str, func: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return func()
        finally:
            WRITE_DURATION.labels(store, self._mode.value).observe(time.perf_counter() - started)

    def _settle(
        self,
        operation: str,
        tarea_id: UUID,
        sql_error: BaseException | None,
        mongo_error: BaseException | None,
        replay_event: Callable[[], ReplicationEvent | None],
    ) -> None:
        """Apply the seed's outcome table to a parallel write."""
        ids = {"tarea_id": str(tarea_id), "operation": operation}
        if sql_error is not None and mongo_error is not None:
            logger.error(f"❌ Dual-Write falló en ambas bases de datos para tarea {tarea_id}", extra=ids)
            SECONDARY_WRITES.labels(self._mode.value, "failed").inc()
            if isinstance(sql_error, ConflictoDeVersionError):
                raise sql_error
            raise DualWriteFailedError(operation, sql_error, mongo_error)
        if sql_error is not None:
            if isinstance(sql_error, ConflictoDeVersionError):
                # The authoritative store refused the version: the caller must know.
                raise sql_error
            logger.warning(f"⚠️ SQLAlchemy falló: {sql_error}", extra=ids)
            SECONDARY_WRITES.labels(self._mode.value, "ok").inc()
        elif mongo_error is not None:
            logger.warning(f"⚠️ MongoDB falló: {mongo_error}", extra=ids)
            SECONDARY_WRITES.labels(self._mode.value, "failed").inc()
            self._record_for_replay(replay_event())
        else:
            logger.info(f"✅ Dual-Write exitoso para tarea {tarea_id}", extra=ids)
            SECONDARY_WRITES.labels(self._mode.value, "ok").inc()

    def _record_for_replay(self, event: ReplicationEvent | None) -> None:
        """Keep a failed MongoDB write so the relay replays it (threadpool mode)."""
        if event is None or self._outbox is None:
            return
        try:
            self._outbox.record([event])
        except Exception as exc:  # the write itself succeeded in SQL; do not fail it
            logger.error(
                f"❌ Could not record the failed MongoDB write for replay: {exc}",
                extra={"tarea_id": str(event.tarea_id)},
            )

    def _dispatch(self, events: Sequence[ReplicationEvent]) -> None:
        """Hand committed events to the queue; on failure leave them to the relay."""
        assert self._publisher is not None and self._outbox is not None
        ids = [event.event_id for event in events]
        try:
            self._publisher.publish(ids)
            SECONDARY_WRITES.labels(self._mode.value, "queued").inc(len(ids))
            logger.info(
                f"✅ Escritura SQL confirmada; réplica MongoDB encolada (eventos {ids})",
                extra={"event_ids": ids},
            )
        except Exception as exc:
            SECONDARY_WRITES.labels(self._mode.value, "publish_failed").inc(len(ids))
            logger.warning(f"⚠️ Cola no disponible, el relay reenviará: {exc}", extra={"event_ids": ids})
            try:
                self._outbox.release(ids)
            except Exception as release_exc:  # still safe: the relay resends after its timeout
                logger.warning(f"⚠️ Could not release events {ids}: {release_exc}", extra={"event_ids": ids})

    def _current_version(self, tarea_id: UUID) -> int | None:
        try:
            tarea = self._sql_repo.get(tarea_id)
        except Exception:
            return None
        return tarea.version if tarea is not None else None

    # -- reads -----------------------------------------------------------------------
    def get_for_update(self, tarea_id: UUID) -> Tarea | None:
        """SQL's copy: SQL is written first in both modes; a failure there is an error
        to report (503), never a reason to check a change against MongoDB's copy."""
        return self._sql_repo.get_for_update(tarea_id)

    def _ordered(self) -> tuple[tuple[str, TareaRepository], tuple[str, TareaRepository]]:
        sql, mongo = ("sql", self._sql_repo), ("mongo", self._mongo_repo)
        return (sql, mongo) if self._primary is PrimaryStore.SQL else (mongo, sql)

    def get(self, tarea_id: UUID) -> Tarea | None:
        logger.debug(f"🔍 Buscando tarea {tarea_id}")
        (first_name, first), (second_name, second) = self._ordered()
        reason = "miss"
        first_error: BaseException | None = None
        try:
            result = first.get(tarea_id)
            if result is not None:
                return result
        except Exception as exc:
            first_error, reason = exc, "error"
            logger.warning(f"⚠️ Error en {STORE_NAMES[first_name]}: {exc}", extra={"tarea_id": str(tarea_id)})
        try:
            result = second.get(tarea_id)
        except Exception as exc:
            logger.error(f"❌ Error en {STORE_NAMES[second_name]}: {exc}", extra={"tarea_id": str(tarea_id)})
            if first_error is not None:
                raise first_error from exc
            return None
        if result is None and first_error is not None:
            # A miss in the other store proves nothing while the primary is unreachable
            # (the replica may lag): answering "not found" would be a lie.
            raise first_error
        if result is not None:
            READ_FALLBACKS.labels("get", reason).inc()
            logger.info(
                f"✓ Obtenido de {STORE_NAMES[second_name]} (fallback)", extra={"tarea_id": str(tarea_id)}
            )
        return result

    def list(self, *, estado: EstadoTarea | None = None, limit: int = 100, offset: int = 0) -> list[Tarea]:
        return self._read_with_fallback(
            "list", lambda repo: repo.list(estado=estado, limit=limit, offset=offset)
        )

    def count(self, *, estado: EstadoTarea | None = None) -> int:
        return self._read_with_fallback("count", lambda repo: repo.count(estado=estado))

    def _read_with_fallback(self, operation: str, read: Callable[[TareaRepository], T]) -> T:
        """Primary first; the other store only when the primary fails (an empty page is
        an answer, not a miss)."""
        (first_name, first), (second_name, second) = self._ordered()
        try:
            return read(first)
        except Exception as exc:
            logger.warning(f"⚠️ Error en {STORE_NAMES[first_name]}: {exc}")
            try:
                result = read(second)
            except Exception:
                raise exc from None
            READ_FALLBACKS.labels(operation, "error").inc()
            logger.info(f"✓ Obtenido de {STORE_NAMES[second_name]} (fallback)")
            return result
