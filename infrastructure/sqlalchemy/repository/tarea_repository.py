"""SQLAlchemy adapter of the Tarea repository, with its transactional outbox."""

from __future__ import annotations

import dataclasses
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
from infrastructure.sqlalchemy.outbox.outbox_store import NEW_EVENT_COLUMNS, event_values, insert_events
from infrastructure.sqlalchemy.schema import outbox, tareas

logger = logging.getLogger(__name__)


def _default_engine() -> Engine:
    from infrastructure.settings import Settings

    engine = create_sql_engine(Settings().resolved_database_url())
    migrate(engine)
    return engine


_INSERT_TAREA = tareas.insert()


def _insert_tarea_with_event() -> sa.Insert:
    """PostgreSQL: a new Tarea's row and its outbox event in one statement,
    ``WITH t AS (INSERT INTO tareas ...) INSERT INTO outbox ... RETURNING id``.

    One round trip and one statement execution instead of two: the create path is what
    every POST runs, and the outbox is all it adds to an SQL-only write. Parameters are
    ``t_<column>`` for the row and ``o_<column>`` for the event.
    """
    row = tareas.insert().values({c.name: sa.bindparam(f"t_{c.name}", type_=c.type) for c in tareas.c})
    event_columns = [outbox.c[name] for name in NEW_EVENT_COLUMNS]
    return (
        outbox.insert()
        .values({c.name: sa.bindparam(f"o_{c.name}", type_=c.type) for c in event_columns})
        .returning(outbox.c.id)
        .add_cte(row.cte("new_tarea"))
    )


_INSERT_TAREA_WITH_EVENT = _insert_tarea_with_event()


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
        event = ReplicationEvent.upsert(tarea)
        with translate_sql_errors(), self._engine.begin() as conn:
            if tarea.version == 1 and conn.dialect.name == "postgresql":
                return tarea, self._insert_with_event(conn, tarea, event)
            self._save(conn, tarea)
            (recorded,) = insert_events(conn, [event], dispatched=self._mark_dispatched)
        return tarea, recorded

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
    def _insert_with_event(self, conn: Connection, tarea: Tarea, event: ReplicationEvent) -> ReplicationEvent:
        row = tarea_to_record(tarea)
        new_event = event_values(event, dispatched=self._mark_dispatched)
        params = {f"t_{name}": value for name, value in row.items()}
        params |= {f"o_{name}": value for name, value in new_event.items()}
        try:
            event_id = conn.execute(_INSERT_TAREA_WITH_EVENT, params).scalar_one()
        except IntegrityError as exc:  # a duplicate id: someone stored it first
            raise ConflictoDeVersionError(tarea.id, 0, None) from exc
        return dataclasses.replace(event, event_id=int(event_id))

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
