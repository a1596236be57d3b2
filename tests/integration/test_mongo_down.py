"""MongoDB down: every repository operation fails fast with StoreUnavailableError("mongo"),
and the same repository works again once the server is back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from pymongo import MongoClient

from core.domain.errors import StoreUnavailableError
from core.domain.models.replication import ReplicationEvent
from core.domain.models.tarea import Tarea
from infrastructure.mongo.client import MongoDocument, create_mongo_client
from infrastructure.mongo.repository.tarea_repository import MongoTareaRepository
from tests.support.services import MongoServer

pytestmark = pytest.mark.integration

TIMEOUT_MS = 300
# Server selection gives up after TIMEOUT_MS; the rest is slack for a loaded machine.
FAST_ENOUGH_SECONDS = 3.0


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """A server of this module's own, since the tests stop it."""
    server = MongoServer(tmp_path_factory.mktemp("mongo-down") / "db").start()
    yield server
    server.stop()


@pytest.fixture
def client(own_server: MongoServer) -> Iterator[MongoClient[MongoDocument]]:
    if own_server.process is None:
        own_server.start()
    client = create_mongo_client(own_server.url, timeout_ms=TIMEOUT_MS)
    yield client
    client.close()


@pytest.fixture
def repo(client: MongoClient[MongoDocument]) -> MongoTareaRepository:
    return MongoTareaRepository(client, f"t_{uuid.uuid4().hex[:12]}")


STORED = Tarea.crear("guardada antes de la caída")

OPERATIONS: dict[str, Callable[[MongoTareaRepository], object]] = {
    "save": lambda r: r.save(Tarea.crear("nueva")),
    "save-update": lambda r: r.save(STORED.actualizar(titulo="cambio")),
    "get": lambda r: r.get(STORED.id),
    "list": lambda r: r.list(),
    "list-estado": lambda r: r.list(estado=STORED.estado, limit=5, offset=1),
    "count": lambda r: r.count(),
    "eliminar": lambda r: r.eliminar(STORED.id),
    "apply": lambda r: r.apply([ReplicationEvent.upsert(STORED.actualizar(titulo="réplica"))]),
    "ping": lambda r: r.ping(),
}


def test_every_operation_fails_fast_while_down_and_works_after_restart(
    own_server: MongoServer, repo: MongoTareaRepository
) -> None:
    repo.save(STORED)
    own_server.stop()

    for name, operation in OPERATIONS.items():
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError) as info:
            operation(repo)
        elapsed = time.monotonic() - started
        assert info.value.store == "mongo", name
        assert info.value.detail, name
        assert elapsed < FAST_ENOUGH_SECONDS, f"{name} took {elapsed:.1f}s"

    own_server.start()

    assert repo.get(STORED.id) == STORED  # the data survived the restart
    updated = repo.save(STORED.actualizar(titulo="después"))
    assert repo.get(STORED.id) == updated
    assert repo.count() == 1
    assert repo.eliminar(STORED.id) is True


def test_a_repository_built_while_down_works_once_the_server_starts(own_server: MongoServer) -> None:
    own_server.stop()
    # Building needs no server: indexes are created on first use.
    client = create_mongo_client(own_server.url, timeout_ms=TIMEOUT_MS)
    try:
        repo = MongoTareaRepository(client, f"t_{uuid.uuid4().hex[:12]}")
        with pytest.raises(StoreUnavailableError):
            repo.save(Tarea.crear("pronto"))

        own_server.start()

        tarea = repo.save(Tarea.crear("ya"))
        assert repo.get(tarea.id) == tarea
        assert repo.list() == [tarea]
    finally:
        client.close()
