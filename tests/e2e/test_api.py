"""The HTTP API end to end, for every ``ORM``: through ``TestClient`` on a container built
from explicit settings, and through a real uvicorn process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi.testclient import TestClient
from pymongo import MongoClient

from api.main import MAX_BODY_BYTES, create_app
from infrastructure.container import Container, bootstrap
from infrastructure.mongo.client import MongoDocument
from infrastructure.mongo.embedded_server import free_port, mongo_url_for_port
from infrastructure.mongo.repository.tarea_repository import MongoTareaRepository
from infrastructure.settings import Settings
from tests.support.services import REPO_ROOT, MongoServer, port_open, wait_for

ORMS = [
    pytest.param({"orm": "sqlalchemy"}, id="sqlalchemy"),
    pytest.param({"orm": "mongo"}, id="mongo", marks=pytest.mark.integration),
    # The default dual mode; the threadpool mode has its own tests below.
    pytest.param({"orm": "dual"}, id="dual", marks=pytest.mark.integration),
]
STORES = {"sqlalchemy": {"sql"}, "mongo": {"mongo"}, "dual": {"sql", "mongo"}}


def _container(tmp_path: Path, **overrides: Any) -> Container:
    return bootstrap(Settings(data_dir=tmp_path / "data", **overrides))


def _client(container: Container) -> TestClient:
    # Server errors come back as responses, so a test can assert there was no 500.
    return TestClient(create_app(lambda: container), raise_server_exceptions=False)


@pytest.fixture(params=ORMS)
def container(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Container]:
    overrides: dict[str, Any] = dict(request.param)
    mongo_db = f"t_{uuid4().hex[:12]}"
    if overrides["orm"] != "sqlalchemy":
        server: MongoServer = request.getfixturevalue("mongo_server")
        overrides.update(mongo_url=server.url, mongo_db=mongo_db)
    built = _container(tmp_path, **overrides)
    yield built
    if overrides["orm"] != "sqlalchemy":
        built.mongo_repository.collection.database.client.drop_database(mongo_db)
    built.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with _client(container) as test_client:
        yield test_client


def _create(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/tareas", json={"titulo": "Tarea", **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _error_locations(response: httpx.Response) -> list[list[Any]]:
    """The ``loc`` of every field error in a 422 answer."""
    assert response.status_code == 422, response.text
    assert set(response.json()) == {"error", "detail"}
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail, detail
    return [list(error["loc"]) for error in detail]


# -- CRUD -----------------------------------------------------------------------------------
def test_create_answers_201_with_location_and_etag_then_reads_back(client: TestClient) -> None:
    response = client.post(
        "/tareas",
        json={"titulo": "  Escribir informe ", "descripcion": "trimestral", "estado": "en_progreso"},
    )

    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/tareas/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert (body["titulo"], body["descripcion"], body["estado"], body["version"]) == (
        "Escribir informe",
        "trimestral",
        "en_progreso",
        1,
    )
    assert body["created_at"] == body["updated_at"]

    read = client.get(response.headers["location"])
    assert read.status_code == 200
    assert read.json() == body
    assert read.headers["etag"] == '"1"'


def test_create_defaults_descripcion_and_estado(client: TestClient) -> None:
    body = _create(client, titulo="mínima")
    assert (body["descripcion"], body["estado"]) == ("", "pendiente")


def test_list_pages_filters_and_counts(client: TestClient) -> None:
    estados = ["pendiente", "completada", "pendiente", "pendiente", "completada"]
    created = [_create(client, titulo=f"t{i}", estado=estado) for i, estado in enumerate(estados)]
    expected = [t["id"] for t in sorted(created, key=lambda t: (t["created_at"], t["id"]))]

    pages = [client.get("/tareas", params={"limit": 2, "offset": offset}).json() for offset in (0, 2, 4)]

    assert [t["id"] for page in pages for t in page["items"]] == expected
    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    assert {page["total"] for page in pages} == {5}
    assert (pages[1]["limit"], pages[1]["offset"]) == (2, 2)

    completadas = client.get("/tareas", params={"estado": "completada"}).json()
    assert completadas["total"] == 2
    assert {t["id"] for t in completadas["items"]} == {created[1]["id"], created[4]["id"]}
    assert client.get("/tareas", params={"estado": "cancelada"}).json() == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
    }


def test_put_replaces_every_field_and_bumps_the_version(client: TestClient) -> None:
    tarea = _create(client, titulo="original", descripcion="se borrará")

    response = client.put(f"/tareas/{tarea['id']}", json={"titulo": "nuevo", "estado": "completada"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["titulo"], body["descripcion"], body["estado"], body["version"]) == (
        "nuevo",
        "",
        "completada",
        2,
    )
    assert response.headers["etag"] == '"2"'
    assert body["created_at"] == tarea["created_at"]
    assert client.get(f"/tareas/{tarea['id']}").json() == body


def test_patch_changes_only_the_given_fields(client: TestClient) -> None:
    tarea = _create(client, titulo="se queda", descripcion="también")

    response = client.patch(f"/tareas/{tarea['id']}", json={"estado": "en_progreso", "expected_version": 1})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["titulo"], body["descripcion"], body["estado"], body["version"]) == (
        "se queda",
        "también",
        "en_progreso",
        2,
    )
    assert response.headers["etag"] == '"2"'


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_stale_expected_version_answers_409_and_changes_nothing(client: TestClient, method: str) -> None:
    tarea = _create(client, titulo="v1")
    client.patch(f"/tareas/{tarea['id']}", json={"titulo": "v2"})

    response = client.request(
        method.upper(), f"/tareas/{tarea['id']}", json={"titulo": "pisada", "expected_version": 1}
    )

    assert response.status_code == 409
    assert response.json()["error"] == "version_conflict"
    assert "version 2" in response.json()["detail"]
    stored = client.get(f"/tareas/{tarea['id']}").json()
    assert (stored["titulo"], stored["version"]) == ("v2", 2)


def test_delete_answers_204_then_the_tarea_is_gone(client: TestClient) -> None:
    tarea = _create(client, titulo="borrar")
    kept = _create(client, titulo="queda")

    response = client.delete(f"/tareas/{tarea['id']}")

    assert response.status_code == 204
    assert response.content == b""
    gone = client.get(f"/tareas/{tarea['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"] == "not_found"
    assert client.delete(f"/tareas/{tarea['id']}").status_code == 404
    page = client.get("/tareas").json()
    assert [t["id"] for t in page["items"]] == [kept["id"]]
    assert page["total"] == 1


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"descripcion": "sin título"}, "titulo"),
        ({"titulo": ""}, "titulo"),
        ({"titulo": "   "}, "titulo"),
        ({"titulo": "x" * 201}, "titulo"),
        ({"titulo": 42}, "titulo"),
        ({"titulo": "ok", "prioridad": "alta"}, "prioridad"),
        ({"titulo": "ok", "estado": "terminada"}, "estado"),
        ({"titulo": "ok", "descripcion": "d" * 5001}, "descripcion"),
    ],
    ids=["missing", "empty", "blank", "too-long", "not-a-string", "unknown-field", "bad-estado", "long-desc"],
)
def test_bad_create_bodies_answer_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/tareas", json=body)

    assert any(loc[-1] == field for loc in _error_locations(response)), response.text
    assert client.get("/tareas").json()["total"] == 0


def test_bad_update_bodies_answer_422(client: TestClient) -> None:
    tarea = _create(client)
    url = f"/tareas/{tarea['id']}"

    assert ["body", "titulo"] in _error_locations(client.put(url, json={"estado": "completada"}))
    assert _error_locations(client.patch(url, json={"titulo": "  "}))[0][-1] == "titulo"
    assert _error_locations(client.patch(url, json={"expected_version": 0}))[0][-1] == "expected_version"
    assert _error_locations(client.patch(url, json={"version": 7}))[0][-1] == "version"
    assert client.get(url).json() == tarea


def test_malformed_json_answers_422(client: TestClient) -> None:
    response = client.post("/tareas", content=b'{"titulo": ', headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_an_oversized_body_answers_413(client: TestClient) -> None:
    response = client.post("/tareas", json={"titulo": "grande", "descripcion": "x" * (MAX_BODY_BYTES + 1)})

    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert client.get("/tareas").json()["total"] == 0


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_a_malformed_id_answers_422(client: TestClient, method: str) -> None:
    response = client.request(method, "/tareas/no-es-un-uuid", json={"titulo": "x"})
    assert ["path", "tarea_id"] in _error_locations(response)


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_an_unknown_id_answers_404(client: TestClient, method: str) -> None:
    unknown = uuid4()
    response = client.request(method, f"/tareas/{unknown}", json={"titulo": "x"})
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": f"Tarea {unknown} not found"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"estado": "x"}, "estado"),
    ],
)
def test_bad_list_parameters_answer_422(client: TestClient, params: dict[str, Any], field: str) -> None:
    assert ["query", field] in _error_locations(client.get("/tareas", params=params))


# -- health ---------------------------------------------------------------------------------
def test_healthz_and_readyz_with_every_store_up(client: TestClient, container: Container) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}

    ready = client.get("/readyz")

    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["orm"] == container.settings.orm.value
    assert set(body["stores"]) == STORES[container.settings.orm.value]
    assert all(store["status"] == "ok" for store in body["stores"].values())


# -- the dual write, seen from outside ------------------------------------------------------
@pytest.mark.integration
def test_dual_threadpool_writes_reach_both_stores(
    tmp_path: Path, mongo_server: MongoServer, mongo_repo: MongoTareaRepository
) -> None:
    container = _container(
        tmp_path,
        orm="dual",
        dual_write_mode="threadpool",
        mongo_url=mongo_server.url,
        mongo_db=mongo_repo.collection.database.name,
    )
    with _client(container) as client:
        tarea = _create(client, titulo="en las dos")
        updated = client.patch(f"/tareas/{tarea['id']}", json={"estado": "completada"}).json()

        in_sql = container.sql_repository.get(UUID(tarea["id"]))
        in_mongo = mongo_repo.get(UUID(tarea["id"]))
        assert in_mongo is not None and in_sql == in_mongo
        assert (in_mongo.version, in_mongo.estado.value) == (2, updated["estado"])

        assert client.delete(f"/tareas/{tarea['id']}").status_code == 204
        assert mongo_repo.get(in_mongo.id) is None
        assert container.sql_repository.get(in_mongo.id) is None
    container.close()


# -- stores down: 503, never 500 ------------------------------------------------------------
@pytest.fixture
def stopped_mongo(tmp_path: Path) -> Iterator[MongoServer]:
    server = MongoServer(tmp_path / "mongo-down" / "db")
    yield server
    server.stop()


@pytest.mark.integration
def test_readyz_answers_503_while_mongo_is_down_and_200_once_it_is_back(
    tmp_path: Path, stopped_mongo: MongoServer
) -> None:
    container = _container(tmp_path, orm="dual", mongo_url=stopped_mongo.url, mongo_timeout_ms=300)
    with _client(container) as client:
        down = client.get("/readyz")

        assert down.status_code == 503
        body = down.json()
        assert body["status"] == "unavailable"
        assert body["stores"]["sql"] == {"status": "ok"}
        assert body["stores"]["mongo"]["status"] == "unavailable"
        assert body["stores"]["mongo"]["error"].startswith("mongo unavailable")

        stopped_mongo.start()
        assert client.get("/readyz").status_code == 200
    container.close()


@pytest.mark.integration
@pytest.mark.parametrize(
    "overrides",
    [{"orm": "mongo"}, {"orm": "dual", "dual_write_mode": "threadpool"}, {"orm": "dual"}],
    ids=["mongo", "dual-threadpool", "dual-queued"],
)
def test_requests_with_mongo_down(tmp_path: Path, overrides: dict[str, Any]) -> None:
    """Mongo alone: 503. Dual: SQL carries the request (the replica catches up later)."""
    down_url = mongo_url_for_port(free_port())
    container = _container(tmp_path, mongo_url=down_url, mongo_timeout_ms=300, **overrides)
    with _client(container) as client:
        create = client.post("/tareas", json={"titulo": "sin mongo"})
        listing = client.get("/tareas")

        if overrides["orm"] == "mongo":
            for response in (create, listing, client.get(f"/tareas/{uuid4()}")):
                assert response.status_code == 503, response.text
                assert response.json()["error"] == "store_unavailable"
                assert response.json()["detail"].startswith("mongo unavailable")
                assert response.headers["retry-after"] == "1"
        else:
            assert create.status_code == 201, create.text
            assert client.get(create.headers["location"]).json() == create.json()
            assert listing.json()["total"] == 1
    container.close()


@pytest.mark.integration
def test_requests_with_sql_down_answer_503(tmp_path: Path) -> None:
    container = _container(
        tmp_path, orm="sqlalchemy", database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nada"
    )
    with _client(container) as client:
        responses = [
            client.post("/tareas", json={"titulo": "sin sql"}),
            client.get("/tareas"),
            client.get(f"/tareas/{uuid4()}"),
            client.delete(f"/tareas/{uuid4()}"),
        ]
        ready = client.get("/readyz")

    for response in responses:
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "store_unavailable"
        assert response.json()["detail"].startswith("sql unavailable")
    assert ready.status_code == 503
    assert ready.json()["stores"]["sql"]["status"] == "unavailable"
    container.close()


# -- a real server process ------------------------------------------------------------------
@pytest.fixture
def uvicorn_server(
    tmp_path: Path, mongo_server: MongoServer, mongo_client: MongoClient[MongoDocument]
) -> Iterator[tuple[str, MongoTareaRepository]]:
    port = free_port()
    mongo_db = f"t_{uuid4().hex[:12]}"
    env = {
        **os.environ,
        "ORM": "dual",
        "DUALWRITE_DUAL_WRITE_MODE": "threadpool",
        "MONGO_URL": mongo_server.url,
        "DUALWRITE_MONGO_DB": mongo_db,
        "DUALWRITE_DATA_DIR": str(tmp_path / "data"),
    }
    log = open(tmp_path / "uvicorn.log", "wb")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: process.poll() is not None or port_open(port), 60, 0.2, "uvicorn to listen")
        assert process.poll() is None, (tmp_path / "uvicorn.log").read_text()
        yield f"http://127.0.0.1:{port}", MongoTareaRepository(mongo_client, mongo_db)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
        mongo_client.drop_database(mongo_db)


@pytest.mark.integration
def test_a_real_uvicorn_process_serves_the_dual_write(
    uvicorn_server: tuple[str, MongoTareaRepository],
) -> None:
    base_url, mongo_view = uvicorn_server
    with httpx.Client(base_url=base_url, timeout=30) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["stores"]) == {"sql", "mongo"}

        created = http.post("/tareas", json={"titulo": "por HTTP", "descripcion": "proceso real"})
        assert created.status_code == 201, created.text
        tarea = created.json()
        assert http.get(created.headers["location"]).json() == tarea
        in_mongo = mongo_view.get(UUID(tarea["id"]))
        assert in_mongo is not None and in_mongo.titulo == "por HTTP"

        patched = http.patch(f"/tareas/{tarea['id']}", json={"estado": "completada", "expected_version": 1})
        assert patched.status_code == 200 and patched.headers["etag"] == '"2"'
        conflict = http.patch(f"/tareas/{tarea['id']}", json={"titulo": "tarde", "expected_version": 1})
        assert conflict.status_code == 409

        assert http.get("/tareas", params={"estado": "completada"}).json()["total"] == 1
        assert http.post("/tareas", json={"titulo": "  "}).status_code == 422
        raw = http.post("/tareas", content=b"{", headers={"content-type": "application/json"})
        assert raw.status_code == 422
        big = http.post("/tareas", content=json.dumps({"titulo": "x" * (MAX_BODY_BYTES + 10)}).encode())
        assert big.status_code == 413

        assert http.delete(f"/tareas/{tarea['id']}").status_code == 204
        assert http.get(f"/tareas/{tarea['id']}").status_code == 404
        assert mongo_view.get(in_mongo.id) is None
