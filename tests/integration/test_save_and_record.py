"""``save_and_record``: the row and its outbox event commit together or not at all, on
both backends (PostgreSQL writes a new Tarea and its event in one statement)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.domain.errors import ConflictoDeVersionError
from core.domain.models.replication import EventStatus, Operation, ReplicationEvent
from core.domain.models.tarea import Tarea
from infrastructure.sqlalchemy.engine import create_sql_engine, migrate
from infrastructure.sqlalchemy.outbox.outbox_store import NEW_EVENT_COLUMNS, SqlOutbox, event_values
from infrastructure.sqlalchemy.repository.tarea_repository import SqlAlchemyTareaRepository
from infrastructure.sqlalchemy.schema import outbox, tareas

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path) -> Engine:
    if request.param == "postgresql":
        pg_engine: Engine = request.getfixturevalue("pg_engine")
        return pg_engine
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(engine)
    return engine


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(tareas)).scalar_one()
        events = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
    return int(rows), int(events)


@pytest.mark.parametrize("mark_dispatched", [True, False])
def test_new_tarea_and_its_event_are_recorded_together(engine: Engine, mark_dispatched: bool) -> None:
    repo = SqlAlchemyTareaRepository(engine, mark_dispatched=mark_dispatched)
    tarea = Tarea.crear("nueva", "con evento")

    saved, event = repo.save_and_record(tarea)

    assert saved == tarea and repo.get(tarea.id) == tarea
    (loaded,) = SqlOutbox(engine).load([event.event_id])
    assert (loaded.operation, loaded.tarea_id, loaded.version) == (Operation.UPSERT, tarea.id, 1)
    assert loaded.tarea == tarea and loaded.status is EventStatus.PENDING
    with engine.connect() as conn:
        dispatched = conn.execute(
            sa.select(outbox.c.dispatched_at).where(outbox.c.id == event.event_id)
        ).scalar_one()
    assert (dispatched is not None) is mark_dispatched


def test_a_duplicate_new_tarea_writes_neither_row_nor_event(engine: Engine) -> None:
    repo = SqlAlchemyTareaRepository(engine)
    tarea = Tarea.crear("primera")
    repo.save_and_record(tarea)
    before = counts(engine)

    with pytest.raises(ConflictoDeVersionError):
        repo.save_and_record(tarea)

    assert counts(engine) == before
    assert repo.get(tarea.id) == tarea


def test_event_values_fill_exactly_the_declared_columns() -> None:
    values = event_values(ReplicationEvent.upsert(Tarea.crear("x")), dispatched=False)
    assert tuple(values) == NEW_EVENT_COLUMNS
    assert set(NEW_EVENT_COLUMNS) <= set(outbox.c.keys())
