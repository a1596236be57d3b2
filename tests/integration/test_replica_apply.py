"""The replica applies a Tarea's first version as a plain insert, and falls back to the
guarded replace when the document exists: the outcome is the guarded replace's, every time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient, monitoring

from core.domain.models.replication import ReplicationEvent
from core.domain.models.tarea import Tarea
from infrastructure.mongo.repository.tarea_repository import MongoTareaRepository, tombstone
from tests.support.services import MongoServer

pytestmark = pytest.mark.integration


def test_fresh_creates_are_all_applied(mongo_repo: MongoTareaRepository) -> None:
    tareas = [Tarea.crear(f"nueva {n}") for n in range(20)]

    result = mongo_repo.apply([ReplicationEvent.upsert(t) for t in tareas])

    assert (result.applied, result.stale) == (20, 0)
    assert [mongo_repo.get(t.id) for t in tareas] == tareas


class CommandNames(monitoring.CommandListener):
    """The write commands a client sends, by name."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("insert", "update"):
            self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def watched(
    mongo_server: MongoServer, mongo_db_name: str
) -> Iterator[tuple[MongoTareaRepository, CommandNames]]:
    commands = CommandNames()
    client: MongoClient[dict[str, Any]] = MongoClient(
        mongo_server.url, tz_aware=True, event_listeners=[commands]
    )
    yield MongoTareaRepository(client, mongo_db_name), commands
    client.drop_database(mongo_db_name)
    client.close()


def test_fresh_creates_take_one_insert_and_redeliveries_one_more_update(
    watched: tuple[MongoTareaRepository, CommandNames],
) -> None:
    replica, commands = watched
    events = [ReplicationEvent.upsert(Tarea.crear(f"nueva {n}")) for n in range(5)]

    replica.apply(events)
    assert commands.names == ["insert"]

    commands.names.clear()
    result = replica.apply(events)  # every insert refused as a duplicate, then replaced
    assert commands.names == ["insert", "update"]
    assert (result.applied, result.stale) == (5, 0)


def test_redelivered_create_rewrites_the_same_version(mongo_repo: MongoTareaRepository) -> None:
    """Equal versions take the event's content (a repair of drifted content at v1)."""
    authoritative = Tarea.crear("en SQL")
    drifted = dataclasses.replace(authoritative, titulo="distinto en Mongo")
    mongo_repo.apply([ReplicationEvent.upsert(drifted)])

    result = mongo_repo.apply(
        [ReplicationEvent.upsert(authoritative), ReplicationEvent.upsert(Tarea.crear("x"))]
    )

    assert (result.applied, result.stale) == (2, 0)
    assert mongo_repo.get(authoritative.id) == authoritative


def test_create_after_a_newer_version_or_a_delete_is_stale(mongo_repo: MongoTareaRepository) -> None:
    v1 = Tarea.crear("v1")
    v2 = v1.actualizar(titulo="v2")
    borrada = Tarea.crear("borrada")
    mongo_repo.apply(
        [ReplicationEvent.upsert(v2), ReplicationEvent.delete(borrada.id, 2, borrada.updated_at)]
    )

    late = [ReplicationEvent.upsert(v1), ReplicationEvent.upsert(borrada)]
    result = mongo_repo.apply(late)

    assert (result.applied, result.stale) == (0, 2)
    assert mongo_repo.get(v1.id) == v2
    stored = mongo_repo.collection.find_one({"_id": str(borrada.id)})
    assert stored is not None
    assert stored["deleted"] is True
    assert stored["version"] == tombstone(borrada.id, 2)["version"]


def test_create_and_its_update_in_one_batch_end_at_the_update(mongo_repo: MongoTareaRepository) -> None:
    """Unordered bulk writes may run inserts and replaces in any order; versions decide."""
    v1 = Tarea.crear("v1")
    v2 = v1.actualizar(titulo="v2")

    result = mongo_repo.apply([ReplicationEvent.upsert(v2), ReplicationEvent.upsert(v1)])

    assert result.applied + result.stale == 2
    assert mongo_repo.get(v1.id) == v2
