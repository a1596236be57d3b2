"""SQLAlchemy adapter of the Tarea repository, with its transactional outbox."""

from __future__ import annotations

import logging
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from core.domain.errors import ConflictoDeVersionError
from core.domain.models.replication import ReplicationEvent
from core.domain.models.tarea import EstadoTarea, Tarea, utc_now
from core.domain.ports.replication import OutboxWriter
from core.domain.ports.tarea_repository import TareaRepository
from infrastructure.mapping.tarea_mapping import tarea_from_record, tarea_to_record
from infrastructure.sqlalchemy.engine import create_sql_engine, migrate, translate_sql_errors
from infrastructure.sqlalchemy.outbox.outbox_store import insert_events
from infrastructure.sqlalchemy.schema import tareas

logger = logging.getLogger(__name__)


def _default_engine() -> Engine:
    from infrastructure.settings import Settings

    engine = create_sql_engine(Settings().resolved_database_url())
    migrate(engine)
    return engine


_INSERT_TAREA = tareas.insert()


class SqlAlchemyTareaRepository(TareaRepository, OutboxWriter):
    """Stores Tareas in SQLite or PostgreSQL.

    ``save`` is guarded by ``version`` (a stored version >= the new one is a conflict).
    ``save_and_record`` / ``eliminar_and_record`` also write the replication event in
    the same transaction: the outbox row exists if and only if the change committed.
    Built with no engine it uses ``DATABASE_URL`` (SQLite in the data directory by default).

    ``mark_dispatched`` says who publishes those events: the caller, right after the
    commit (True: the event is recorded as handed over, and released if that fails), or
    the relay (False: the event waits undispatched, and PostgreSQL wakes the relay).
    """

    def __init__(self, engine: Engine | None = None, *, mark_dispatched: bool = True) -> None:
        self._engine = engine if engine is not None else _default_engine()
        self._mark_dispatched = mark_dispatched

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- TareaRepository -------------------------------------------------------------
    def save(self, tarea: Tarea) -> Tarea:
        with translate_sql_errors(), self._engine.begin() as conn:
            self._save(conn, tarea)
        return tarea

    def get(self, tarea_id: UUID) -> Tarea | None:
        with translate_sql_errors(), self._engine.connect() as conn:
            row = conn.execute(sa.select(tareas).where(tareas.c.id == str(tarea_id))).mappings().first()
        return tarea_from_record(row) if row is not None else None

    def list(self, *, estado: EstadoTarea | None = None, limit: int = 100, offset: int = 0) -> list[Tarea]:
        query = sa.select(tareas).order_by(tareas.c.created_at, tareas.c.id).limit(limit).offset(offset)
        if estado is not None:
            query = query.where(tareas.c.estado == estado.value)
        with translate_sql_errors(), self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [tarea_from_record(row) for row in rows]

    def count(self, *, estado: EstadoTarea | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(tareas)
        if estado is not None:
            query = query.where(tareas.c.estado == estado.value)
        with translate_sql_errors(), self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def eliminar(self, tarea_id: UUID) -> bool:
        with translate_sql_errors(), self._engine.begin() as conn:
            return self._delete(conn, tarea_id) is not None

    # -- OutboxWriter ----------------------------------------------------------------
    def save_and_record(self, tarea: Tarea) -> tuple[Tarea, ReplicationEvent]:
        with translate_sql_errors(), self._engine.begin() as conn:
            self._save(conn, tarea)
            (event,) = insert_events(conn, [ReplicationEvent.upsert(tarea)], dispatched=self._mark_dispatched)
        return tarea, event

    def eliminar_and_record(self, tarea_id: UUID) -> ReplicationEvent | None:
        with translate_sql_errors(), self._engine.begin() as conn:
            version = self._delete(conn, tarea_id)
            if version is None:
                return None
            # The delete is the next version, so no older update can overwrite it.
            event = ReplicationEvent.delete(tarea_id, version + 1, utc_now())
            (recorded,) = insert_events(conn, [event], dispatched=self._mark_dispatched)
        return recorded

    # -- helpers ---------------------------------------------------------------------
    @staticmethod
    def _save(conn: Connection, tarea: Tarea) -> None:
        record = tarea_to_record(tarea)
        if tarea.version == 1:
            # A new Tarea: one INSERT; a duplicate id means someone stored it first.
            try:
                conn.execute(_INSERT_TAREA, record)
            except IntegrityError as exc:
                raise ConflictoDeVersionError(tarea.id, 0, None) from exc
            return
        updated = conn.execute(
            tareas.update()
            .where(tareas.c.id == record["id"], tareas.c.version < tarea.version)
            .values({k: v for k, v in record.items() if k != "id"})
        )
        if updated.rowcount == 1:
            return
        current = conn.execute(
            sa.select(tareas.c.version).where(tareas.c.id == record["id"])
        ).scalar_one_or_none()
        if current is not None:
            raise ConflictoDeVersionError(tarea.id, tarea.version - 1, current)
        # A later version of a Tarea this store never had (a store that missed writes).
        try:
            conn.execute(_INSERT_TAREA, record)
        except IntegrityError as exc:  # a concurrent insert of the same id won
            raise ConflictoDeVersionError(tarea.id, tarea.version - 1, None) from exc

    @staticmethod
    def _delete(conn: Connection, tarea_id: UUID) -> int | None:
        """Delete the row; return the version it had, or None if there was none."""
        row = conn.execute(
            tareas.delete().where(tareas.c.id == str(tarea_id)).returning(tareas.c.version)
        ).first()
        return int(row[0]) if row is not None else None


__all__ = ["SqlAlchemyTareaRepository"]
