"""An update is checked against the authoritative copy, never a lagging replica.

With SQL unreachable, ``get`` may answer from MongoDB (the seed's fallback read), and
in queued mode MongoDB can lag. Checking ``expected_version`` against that copy would
turn an outage into a false 409; the client must get the outage (503) instead.
"""

from __future__ import annotations

from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.application.actualizar_tarea import ActualizarTareaCommand, ActualizarTareaUseCase
from core.domain.errors import StoreUnavailableError
from core.domain.models.tarea import Tarea
from infrastructure.container import bootstrap
from infrastructure.dual.repository.tarea_repository import DualTareaRepository
from infrastructure.mongo.repository.tarea_repository import MongoTareaRepository
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.repository.tarea_repository import SqlAlchemyTareaRepository
from tests.support.services import MongoServer

pytestmark = pytest.mark.integration


class UnreachableSql(SqlAlchemyTareaRepository):
    """The real SQL adapter with its reads failing as they do when the server is away."""

    down = False

    def get(self, tarea_id: UUID) -> Tarea | None:
        if self.down:
            raise StoreUnavailableError("sql", "connection refused")
        return super().get(tarea_id)


def test_update_with_sql_down_is_an_outage_not_a_conflict(sqlite_engine, mongo_repo: MongoTareaRepository):
    sql = UnreachableSql(sqlite_engine)
    dual = DualTareaRepository(sql_repository=sql, mongo_repository=mongo_repo)
    v1 = dual.save(Tarea.crear("original"))
    v2 = sql.save(v1.actualizar(titulo="only in SQL so far"))  # MongoDB lags at v1

    sql.down = True
    assert dual.get(v1.id) == v1  # the seed's fallback read still answers, from MongoDB
    with pytest.raises(StoreUnavailableError):
        ActualizarTareaUseCase(dual).execute(
            ActualizarTareaCommand(tarea_id=v1.id, titulo="next", expected_version=v2.version)
        )


def test_put_through_the_api_checks_sql_not_the_replica(tmp_path, mongo_server: MongoServer, mongo_db_name):
    container = bootstrap(
        Settings(data_dir=tmp_path / "data", orm="dual", mongo_url=mongo_server.url, mongo_db=mongo_db_name)
    )
    client = TestClient(create_app(lambda: container), raise_server_exceptions=False)
    created = client.post("/tareas", json={"titulo": "t"}).json()
    # No worker runs: MongoDB never got the Tarea; a stale or missing replica copy must
    # not decide the update, SQL does.
    updated = client.put(f"/tareas/{created['id']}", json={"titulo": "t2", "expected_version": 1})
    assert updated.status_code == 200 and updated.json()["version"] == 2
    stale = client.put(f"/tareas/{created['id']}", json={"titulo": "t3", "expected_version": 1})
    assert stale.status_code == 409
    container.close()
