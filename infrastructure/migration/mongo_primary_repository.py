"""Writes while MongoDB is authoritative and SQL is replicated (the ``mongo_primary`` stage).

The outbox lives in SQL, but the write that counts is MongoDB's, so the two cannot
share a transaction. The order makes it safe anyway:

1. record the event in SQL as an *intent*: pending, and marked as handed over, so the
   relay leaves it alone while this request is still writing;
2. write MongoDB (the acknowledged write);
3. hand the event to the queue (or release it to the relay if the queue is down).

The worker applies the Tarea's *current* MongoDB state to SQL (see ``sql_replica``),
so a crash after 1 leaves an intent that the relay re-sends later and that replicates
whatever MongoDB holds; a failed MongoDB write leaves at most a no-op event. Nothing
acknowledged is lost, and nothing unacknowledged is replicated.
"""

from __future__ import annotations

import logging
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.domain.errors import ConflictoDeVersionError
from core.domain.models.migration_stage import Store
from core.domain.models.replication import ReplicationEvent
from core.domain.models.tarea import EstadoTarea, Tarea, utc_now
from core.domain.ports.replication import EventPublisher, Outbox
from core.domain.ports.tarea_repository import TareaRepository
from infrastructure.sqlalchemy.engine import translate_sql_errors
from infrastructure.sqlalchemy.outbox.outbox_store import insert_events
from infrastructure.sqlalchemy.schema import tareas

logger = logging.getLogger(__name__)


class MongoPrimaryTareaRepository(TareaRepository):
    """MongoDB authoritative, SQL replicated through the outbox and the queue.

    Reads go to MongoDB only; the staged repository adds the fallback.
    """

    def __init__(
        self, mongo: TareaRepository, engine: Engine, outbox: Outbox, publisher: EventPublisher
    ) -> None:
        self._mongo = mongo
        self._engine = engine
        self._outbox = outbox
        self._publisher = publisher

    # -- writes ----------------------------------------------------------------------
    def save(self, tarea: Tarea) -> Tarea:
        intent = self._record_intent(ReplicationEvent.upsert(tarea, target=Store.SQL), guard=tarea)
        try:
            self._mongo.save(tarea)
        except Exception:
            self._release(intent)
            raise
        self._dispatch(intent)
        return tarea

    def eliminar(self, tarea_id: UUID) -> bool:
        current = self._mongo.get(tarea_id)
        if current is None:
            return False
        intent = self._record_intent(
            ReplicationEvent.delete(tarea_id, current.version + 1, utc_now(), target=Store.SQL)
        )
        try:
            deleted = self._mongo.eliminar(tarea_id)
        except Exception:
            self._release(intent)
            raise
        self._dispatch(intent)
        return deleted

    def _record_intent(self, event: ReplicationEvent, guard: Tarea | None = None) -> ReplicationEvent:
        """Insert the intent; refuse a version SQL already holds.

        SQL is only a replica here, so it holding ``version`` or newer means a write
        made under the previous stage has not reached MongoDB yet: writing MongoDB now
        would fork the Tarea's history. The caller gets a version conflict and retries.
        """
        with translate_sql_errors(), self._engine.begin() as conn:
            if guard is not None:
                stored = conn.execute(
                    sa.select(tareas.c.version).where(tareas.c.id == str(guard.id))
                ).scalar_one_or_none()
                if stored is not None and stored >= guard.version:
                    raise ConflictoDeVersionError(guard.id, guard.version - 1, stored)
            (recorded,) = insert_events(conn, [event], dispatched=True)
        return recorded

    def _release(self, intent: ReplicationEvent) -> None:
        """The MongoDB write failed: let the relay send the (now no-op) event soon."""
        try:
            self._outbox.release([intent.event_id])
        except Exception as exc:  # the relay re-sends it after its redispatch timeout anyway
            logger.warning(
                "⚠️ Could not release an intent", extra={"event_id": intent.event_id, "error": repr(exc)}
            )

    def _dispatch(self, intent: ReplicationEvent) -> None:
        try:
            self._publisher.publish([intent.event_id])
        except Exception as exc:
            logger.warning(
                "⚠️ Queue unavailable; the relay will send the SQL replication event",
                extra={"event_id": intent.event_id, "error": repr(exc)},
            )
            self._release(intent)

    # -- reads -----------------------------------------------------------------------
    def get(self, tarea_id: UUID) -> Tarea | None:
        return self._mongo.get(tarea_id)

    def list(self, *, estado: EstadoTarea | None = None, limit: int = 100, offset: int = 0) -> list[Tarea]:
        return self._mongo.list(estado=estado, limit=limit, offset=offset)

    def count(self, *, estado: EstadoTarea | None = None) -> int:
        return self._mongo.count(estado=estado)
