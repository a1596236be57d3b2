"""Duplicate and out-of-order deliveries never change the replica's final state.

Histories of a few Tareas (creates, updates, deletes) are written to PostgreSQL with
their outbox events; the events are then delivered shuffled, with duplicates and in
arbitrary batches, to the real Mongo-compatible server, directly, through the use case,
and through a real Celery worker. Mongo must end equal to SQL's latest state: deleted
Tareas stay deleted, and no older update resurrects or rolls back a Tarea.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import MongoClient

from core.application.aplicar_replicacion import AplicarReplicacionUseCase
from core.domain.models.replication import ReplicationEvent
from core.domain.models.tarea import EstadoTarea, Tarea
from infrastructure.mapping.tarea_mapping import tarea_from_document
from infrastructure.mongo.repository.tarea_repository import MongoTareaRepository
from infrastructure.sqlalchemy.outbox.outbox_store import SqlOutbox
from infrastructure.sqlalchemy.repository.tarea_repository import SqlAlchemyTareaRepository
from tests.support.services import MongoServer
from tests.support.stack import ReplicationStack

pytestmark = pytest.mark.integration

ESTADOS = list(EstadoTarea)
# One Tarea's history: how many updates follow its creation, and whether it ends deleted.
HISTORY = st.tuples(st.integers(min_value=0, max_value=4), st.booleans())
HISTORIES = st.lists(HISTORY, min_size=1, max_size=3)
PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Written:
    """What SQL holds after the histories, and the events they recorded."""

    events: list[ReplicationEvent]
    final: dict[UUID, Tarea | None]  # None: deleted
    last_version: dict[UUID, int]


def write_histories(repo: SqlAlchemyTareaRepository, histories: list[tuple[int, bool]]) -> Written:
    events: list[ReplicationEvent] = []
    final: dict[UUID, Tarea | None] = {}
    last_version: dict[UUID, int] = {}
    for index, (updates, deleted) in enumerate(histories):
        tarea, event = repo.save_and_record(Tarea.crear(f"tarea {index}"))
        events.append(event)
        for n in range(updates):
            tarea, event = repo.save_and_record(
                tarea.actualizar(titulo=f"tarea {index} v{n + 2}", estado=ESTADOS[n % len(ESTADOS)])
            )
            events.append(event)
        final[tarea.id] = tarea
        last_version[tarea.id] = tarea.version
        if deleted:
            delete = repo.eliminar_and_record(tarea.id)
            assert delete is not None
            events.append(delete)
            final[tarea.id] = None
            last_version[tarea.id] = delete.version
    return Written(events, final, last_version)


T = TypeVar("T")


def shuffled_deliveries(events: list[T], rng: random.Random, duplicates: int) -> list[T]:
    delivered = list(events) + [rng.choice(events) for _ in range(duplicates)]
    rng.shuffle(delivered)
    return delivered


def in_batches(items: list[T], rng: random.Random, max_batch: int) -> Iterator[list[T]]:
    start = 0
    while start < len(items):
        size = rng.randint(1, max_batch)
        yield items[start : start + size]
        start += size


def assert_replica_equals_sql(
    collection, sql: SqlAlchemyTareaRepository, written: Written, replica: MongoTareaRepository
) -> None:
    for tarea_id, expected in written.final.items():
        document = collection.find_one({"_id": str(tarea_id)})
        assert document is not None, f"{tarea_id} never reached Mongo"
        if expected is None:
            assert sql.get(tarea_id) is None
            assert document.get("deleted") is True, f"{tarea_id} was resurrected: {document}"
            assert document["version"] == written.last_version[tarea_id]
            assert replica.get(tarea_id) is None
        else:
            assert sql.get(tarea_id) == expected
            assert tarea_from_document(document) == expected


@pytest.fixture
def second_replica(mongo_client: MongoClient[dict[str, Any]]) -> Iterator[MongoTareaRepository]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield MongoTareaRepository(mongo_client, name)
    mongo_client.drop_database(name)


@PROPERTY_SETTINGS
@given(histories=HISTORIES, seed=st.integers(0, 2**32 - 1), duplicates=st.integers(0, 8))
def test_shuffled_duplicated_batches_converge_to_sql_state(
    pg_engine, mongo_repo: MongoTareaRepository, second_replica, histories, seed, duplicates
) -> None:
    sql = SqlAlchemyTareaRepository(pg_engine)
    outbox = SqlOutbox(pg_engine)
    written = write_histories(sql, histories)
    # The events exactly as a worker reads them back from the outbox.
    recorded = outbox.load([event.event_id for event in written.events])
    assert len(recorded) == len(written.events)
    rng = random.Random(seed)

    # Straight to the replica: duplicates and stale versions inside one bulk write, too.
    for events in in_batches(shuffled_deliveries(recorded, rng, duplicates), rng, max_batch=5):
        result = mongo_repo.apply(events)
        assert result.applied + result.stale == len(events)
    assert_replica_equals_sql(mongo_repo.collection, sql, written, mongo_repo)

    # Through the use case, as the worker calls it: ids in, outbox states updated.
    use_case = AplicarReplicacionUseCase(outbox, second_replica)
    ids = [event.event_id for event in recorded]
    for id_batch in in_batches(shuffled_deliveries(ids, rng, duplicates), rng, max_batch=5):
        use_case.execute(id_batch)
    assert outbox.load(ids) == []  # every event done, none left pending
    assert_replica_equals_sql(second_replica.collection, sql, written, second_replica)


@pytest.fixture(scope="module")
def worker_stack(
    tmp_path_factory: pytest.TempPathFactory, mongo_server: MongoServer
) -> Iterator[ReplicationStack]:
    stack = ReplicationStack(tmp_path_factory.mktemp("property-stack"), mongo_server).start()
    yield stack
    stack.stop()


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories=HISTORIES, seed=st.integers(0, 2**32 - 1))
def test_shuffled_duplicated_batches_through_the_worker(
    worker_stack: ReplicationStack, histories, seed
) -> None:
    container = worker_stack.container
    written = write_histories(container.sql_repository, histories)
    rng = random.Random(seed)
    ids = [event.event_id for event in written.events]
    # Publish out of order and twice over; two worker threads apply batches concurrently.
    for batch in in_batches(shuffled_deliveries(ids, rng, len(ids)), rng, max_batch=4):
        container.publisher.publish(batch)
    worker_stack.wait_drained(timeout=60)
    assert_replica_equals_sql(
        container.mongo_repository.collection, container.sql_repository, written, container.mongo_repository
    )
