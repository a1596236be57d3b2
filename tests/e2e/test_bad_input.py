"""Hostile and broken requests get a 4xx with a useful JSON body, and store nothing.

Run against two deployments: ``ORM=sqlalchemy`` on SQLite (the default) and ``ORM=dual``
in ``threadpool`` mode on PostgreSQL and the MongoDB-wire server, where a write reaches
MongoDB synchronously, so an operator smuggled into a document would land there.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from pymongo import MongoClient

from api.main import MAX_BODY_BYTES, create_app
from core.domain.models.replication import ReplicationEvent
from core.domain.models.tarea import Tarea
from infrastructure.container import Container, bootstrap
from infrastructure.mongo.client import MongoDocument
from infrastructure.mongo.repository.tarea_repository import COLLECTION
from infrastructure.settings import Settings


@dataclass
class Deployment:
    client: TestClient
    container: Container
    mongo: MongoClient[MongoDocument] | None = None

    def stored_in_sql(self) -> int:
        return self.container.sql_repository.count()

    def stored_in_mongo(self) -> int:
        if self.mongo is None:
            return 0
        return self.mongo[self.container.settings.mongo_db][COLLECTION].count_documents({})

    def assert_nothing_stored(self) -> None:
        assert self.stored_in_sql() == 0
        assert self.stored_in_mongo() == 0


@pytest.fixture(params=["sqlalchemy-sqlite", "dual-postgres-mongo"])
def deployment(request: pytest.FixtureRequest, tmp_path) -> Iterator[Deployment]:
    mongo: MongoClient[MongoDocument] | None = None
    if request.param == "sqlalchemy-sqlite":
        settings = Settings(data_dir=tmp_path / "data")
    else:
        pg_engine = request.getfixturevalue("pg_engine")  # migrated and emptied
        mongo = request.getfixturevalue("mongo_client")
        settings = Settings(
            orm="dual",
            dual_write_mode="threadpool",
            data_dir=tmp_path / "data",
            database_url=pg_engine.url.render_as_string(hide_password=False),
            mongo_url=request.getfixturevalue("mongo_server").url,
            mongo_db=f"bad_{uuid.uuid4().hex[:10]}",
        )
    container = bootstrap(settings)
    with TestClient(create_app(lambda: container), raise_server_exceptions=False) as client:
        yield Deployment(client, container, mongo)
    if mongo is not None:
        mongo.drop_database(settings.mongo_db)
    container.close()


def assert_error(response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body: dict[str, object] = response.json()
    assert set(body) == {"error", "detail"}, body
    assert body["detail"], body
    return body


# -- size and syntax ------------------------------------------------------------------------


def test_oversized_body_is_refused_with_413(deployment: Deployment) -> None:
    body = json.dumps({"titulo": "x", "descripcion": "y" * (MAX_BODY_BYTES + 1)})
    response = deployment.client.post("/tareas", content=body, headers={"content-type": "application/json"})
    assert_error(response, 413)
    deployment.assert_nothing_stored()


def test_oversized_chunked_body_without_length_is_refused_with_413(deployment: Deployment) -> None:
    chunk = b'{"titulo": "x", "descripcion": "' + b"y" * 8192

    def stream() -> Iterator[bytes]:
        yield chunk
        for _ in range(MAX_BODY_BYTES // 8192 + 2):
            yield b"y" * 8192
        yield b'"}'

    response = deployment.client.post(
        "/tareas", content=stream(), headers={"content-type": "application/json"}
    )
    assert_error(response, 413)
    deployment.assert_nothing_stored()


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"titulo": "x"', 422),  # truncated
        (b"{'titulo': 'x'}", 422),  # not JSON
        (b"", 422),  # empty
        (b"null", 422),
        (b'["titulo", "x"]', 422),  # an array instead of an object
        (b'[{"titulo": "x"}]', 422),
        (b'"titulo"', 422),
        (b'{"titulo": "\xff\xfe"}', 400),  # not UTF-8: the body cannot even be decoded
    ],
)
def test_malformed_bodies_are_4xx(deployment: Deployment, raw: bytes, status: int) -> None:
    response = deployment.client.post("/tareas", content=raw, headers={"content-type": "application/json"})
    assert_error(response, status)
    deployment.assert_nothing_stored()


@pytest.mark.parametrize(
    "body",
    [
        {"titulo": 123},
        {"titulo": None},
        {"titulo": ["a"]},
        {"titulo": ""},
        {"titulo": "   "},
        {"titulo": "x" * 201},
        {"titulo": "x", "estado": "borrada"},
        {"titulo": "x", "estado": 1},
        {"titulo": "x", "descripcion": 5},
        {"titulo": "x", "version": 7},  # clients never choose the version
        {"titulo": "x", "id": str(uuid.uuid4())},
        {"descripcion": "no titulo"},
    ],
)
def test_wrong_types_and_values_are_422(deployment: Deployment, body: dict[str, object]) -> None:
    assert_error(deployment.client.post("/tareas", json=body), 422)
    deployment.assert_nothing_stored()


@pytest.mark.parametrize("body", [{"titulo": "a\u0000b"}, {"titulo": "x", "descripcion": "\u0000"}])
def test_nul_character_is_refused_before_any_store(deployment: Deployment, body: dict[str, str]) -> None:
    # PostgreSQL text cannot hold NUL while MongoDB can: accepting it would split the stores.
    assert_error(deployment.client.post("/tareas", json=body), 422)
    deployment.assert_nothing_stored()


# -- operator injection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"titulo": {"$gt": ""}},
        {"titulo": {"$ne": None}},
        {"titulo": "x", "estado": {"$ne": "pendiente"}},
        {"titulo": "x", "descripcion": {"$where": "sleep(1000)"}},
        {"$set": {"titulo": "x"}},
        {"titulo": "x", "$where": "1 == 1"},
    ],
)
def test_operator_injection_in_a_body_is_422_and_stores_nothing(
    deployment: Deployment, body: dict[str, object]
) -> None:
    assert_error(deployment.client.post("/tareas", json=body), 422)
    deployment.assert_nothing_stored()


@pytest.mark.parametrize(
    "query",
    [
        "estado[$ne]=x",
        "estado[$ne]=pendiente",
        "estado=%7B%22%24ne%22%3A%20null%7D",  # estado={"$ne": null}
        "estado=$ne",
        "limit[$gt]=0",
        "limit=0",
        "limit=1000000",
        "offset=-1",
        "offset[$ne]=1",
    ],
)
def test_operator_injection_in_list_filters_is_4xx(deployment: Deployment, query: str) -> None:
    deployment.client.post("/tareas", json={"titulo": "visible"}).raise_for_status()
    response = deployment.client.get(f"/tareas?{query}")
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()) == {"error", "detail"}


def test_operator_injection_in_an_update_is_422_and_changes_nothing(deployment: Deployment) -> None:
    created = deployment.client.post("/tareas", json={"titulo": "original"}).json()
    path = f"/tareas/{created['id']}"
    for method, body in [
        ("PUT", {"titulo": {"$set": "x"}, "descripcion": "", "estado": "pendiente"}),
        ("PUT", {"titulo": "x", "estado": "pendiente", "expected_version": {"$gt": 0}}),
        ("PATCH", {"$set": {"titulo": "hacked"}}),
        ("PATCH", {"estado": {"$ne": "pendiente"}}),
        ("PATCH", {"titulo": "x", "expected_version": "1 or 1=1"}),
    ]:
        assert_error(deployment.client.request(method, path, json=body), 422)
    current = deployment.client.get(path).json()
    assert (current["titulo"], current["version"]) == ("original", 1)
    if deployment.mongo is not None:
        document = deployment.mongo[deployment.container.settings.mongo_db][COLLECTION].find_one(
            {"_id": created["id"]}
        )
        assert document is not None
        assert (document["titulo"], document["version"]) == ("original", 1)


@pytest.mark.parametrize("tarea_id", ['{"$ne": null}', "$ne", "not-a-uuid", "1 OR 1=1"])
def test_a_path_id_that_is_not_a_uuid_is_422(deployment: Deployment, tarea_id: str) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body = {"titulo": "x"} if method in ("PUT", "PATCH") else None
        response = deployment.client.request(method, f"/tareas/{tarea_id}", json=body)
        assert_error(response, 422)
    deployment.assert_nothing_stored()


def test_operator_text_in_a_value_is_stored_verbatim_as_text(deployment: Deployment) -> None:
    """A string that looks like an operator is data, never a query."""
    titulo, descripcion = '{"$gt": ""}', "$where: this.version > 0"
    created = deployment.client.post("/tareas", json={"titulo": titulo, "descripcion": descripcion})
    assert created.status_code == 201, created.text
    fetched = deployment.client.get(f"/tareas/{created.json()['id']}").json()
    assert (fetched["titulo"], fetched["descripcion"]) == (titulo, descripcion)
    if deployment.mongo is not None:
        document = deployment.mongo[deployment.container.settings.mongo_db][COLLECTION].find_one(
            {"_id": created.json()["id"]}
        )
        assert document is not None
        assert (document["titulo"], document["descripcion"]) == (titulo, descripcion)


# -- admin API ----------------------------------------------------------------------------------

ADMIN_TOKEN = "admin-token-for-tests"


@pytest.fixture
def admin_app(tmp_path) -> Iterator[tuple[TestClient, Container]]:
    container = bootstrap(Settings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN))
    with TestClient(create_app(lambda: container), raise_server_exceptions=False) as client:
        yield client, container
    container.close()


def admin_operations(client: TestClient) -> list[tuple[str, str]]:
    """Every admin operation the app publishes, with path parameters filled in."""
    paths = client.get("/openapi.json").json()["paths"]
    operations = [
        (method.upper(), path.replace("{event_id}", "1"))
        for path, item in paths.items()
        if path.startswith("/admin")
        for method in item
    ]
    assert operations, "the app publishes no admin operation"
    return operations


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer ", 401),
        ("Basic " + ADMIN_TOKEN, 401),
        ("Bearer wrong-token", 403),
        ("Bearer " + ADMIN_TOKEN + "x", 403),
        ("Bearer " + ADMIN_TOKEN[:-1], 403),
    ],
)
def test_admin_operations_refuse_a_missing_or_wrong_token(
    admin_app: tuple[TestClient, Container], authorization: str | None, status: int
) -> None:
    client, container = admin_app
    # A dead-lettered event: what replay, purge and delete would act on if allowed.
    (event,) = container.outbox.record([ReplicationEvent.upsert(Tarea.crear("kept"))])
    container.outbox.record_failure([event.event_id], RuntimeError("boom"), dead=True)
    headers = {"authorization": authorization} if authorization is not None else {}
    for method, path in admin_operations(client):
        path = path.replace("/events/1", f"/events/{event.event_id}")
        response = client.request(method, path, headers=headers, params={"confirm": "true"})
        body = assert_error(response, status)
        assert ADMIN_TOKEN not in response.text, (method, path, body)
    # Every call was refused before doing anything: the event is still dead, untouched.
    with container.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, status, attempts FROM outbox").all()
    assert [tuple(row) for row in rows] == [(event.event_id, "dead", 1)]


def test_admin_operations_accept_the_right_token(admin_app: tuple[TestClient, Container]) -> None:
    client, _ = admin_app
    response = client.get("/admin/replication/status", headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200, response.text
