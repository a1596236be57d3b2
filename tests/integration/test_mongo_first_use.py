"""First use of a fresh MongoDB database by several threads at once.

The embedded MongoDB-wire server can deadlock when an index build (or an explicit
``create``) creates a collection while a write creates it too. The repository must
never race its index creation against the first writes, so concurrent first writes
and reads on a fresh database all finish, and the indexes appear afterwards.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.domain.models.replication import ReplicationEvent
from core.domain.models.tarea import Tarea
from infrastructure.mongo.client import create_mongo_client
from infrastructure.mongo.repository.tarea_repository import MongoTareaRepository
from tests.support.services import MongoServer

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_first_writes_and_reads_never_hang(
    attempt: int, mongo_server: MongoServer, mongo_db_name: str
) -> None:
    client = create_mongo_client(mongo_server.url, timeout_ms=2000)
    repo = MongoTareaRepository(client, mongo_db_name)
    tareas = [Tarea.crear(f"t{attempt}-{n}") for n in range(9)]
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            writes = [pool.submit(repo.apply, [ReplicationEvent.upsert(t)]) for t in tareas[:6]]
            saves = [pool.submit(repo.save, t) for t in tareas[6:]]
            reads = [pool.submit(repo.list) for _ in range(3)]
            for future in writes + saves + reads:
                future.result(timeout=30)
        assert time.monotonic() - started < 15
        assert repo.count() == len(tareas)

        time.sleep(1.1)  # past the pause before indexing a collection that was missing
        repo.list()
        names = {index["name"] for index in repo.collection.list_indexes()}
        assert {"created_at_1__id_1", "estado_1_created_at_1"} <= names
    finally:
        client.drop_database(mongo_db_name)
        client.close()


def test_ensure_indexes_provisions_a_fresh_database(mongo_server: MongoServer, mongo_db_name: str) -> None:
    client = create_mongo_client(mongo_server.url, timeout_ms=2000)
    repo = MongoTareaRepository(client, mongo_db_name)
    try:
        repo.ensure_indexes()
        names = {index["name"] for index in repo.collection.list_indexes()}
        assert {"created_at_1__id_1", "estado_1_created_at_1"} <= names
        repo.save(Tarea.crear("after provisioning"))
        assert repo.count() == 1
    finally:
        client.drop_database(mongo_db_name)
        client.close()
