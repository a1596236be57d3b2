"""Property-based fuzzing of every operation in the app's own OpenAPI schema: whatever
the generated request, the answer is never a server error (5xx).

Two deployments: ``ORM=sqlalchemy`` on SQLite, and ``ORM=dual`` (queued mode: SQLite,
the MongoDB-wire server, a broker in files). The admin API is fuzzed with its token, so
its operations run instead of stopping at the 401.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from api.main import create_app
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Settings
from tests.support.services import MongoServer

ADMIN_TOKEN = "schemathesis-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


class ContainerSlot:
    """The container a test installs; the app asks for it per request. The schema is
    loaded when this module is imported, and serving ``/openapi.json`` needs no container."""

    def __init__(self) -> None:
        self.container: Container | None = None

    def get(self) -> Container:
        assert self.container is not None, "no container installed for this test"
        return self.container

    def install(self, settings_: Settings) -> Iterator[Container]:
        self.container = bootstrap(settings_)
        yield self.container
        self.container.close()
        self.container = None


sqlalchemy_slot, dual_slot = ContainerSlot(), ContainerSlot()
sqlalchemy_schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(sqlalchemy_slot.get))
dual_schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(dual_slot.get))


@pytest.fixture
def sqlalchemy_container(tmp_path: Path) -> Iterator[Container]:
    yield from sqlalchemy_slot.install(Settings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN))


@pytest.fixture
def dual_container(tmp_path: Path, mongo_server: MongoServer) -> Iterator[Container]:
    yield from dual_slot.install(
        Settings(
            orm="dual",
            data_dir=tmp_path / "data",
            mongo_url=mongo_server.url,
            mongo_db=f"fuzz_{uuid.uuid4().hex[:10]}",
            admin_token=ADMIN_TOKEN,
        )
    )


@sqlalchemy_schema.parametrize()
@FUZZ
def test_sqlalchemy_api_never_answers_5xx(case: Any, sqlalchemy_container: Container) -> None:
    case.call_and_validate(headers=AUTH, checks=[not_a_server_error])


@dual_schema.parametrize()
@FUZZ
def test_dual_api_never_answers_5xx(case: Any, dual_container: Container) -> None:
    case.call_and_validate(headers=AUTH, checks=[not_a_server_error])
