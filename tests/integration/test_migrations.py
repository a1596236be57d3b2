"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from infrastructure.sqlalchemy.engine import create_sql_engine, migrate
from infrastructure.sqlalchemy.schema import metadata

pytestmark = pytest.mark.integration


def _declared_only(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # Tables other modules declare on their own MetaData are checked by their own tests.
    return not (type_ == "table" and reflected and name not in metadata.tables)


def _schema_diff(engine: Any) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _declared_only, "compare_type": True}
        )
        return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_declared_schema(backend: str, tmp_path, pg_database) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else pg_database.url
    engine = create_sql_engine(url)
    migrate(engine)
    migrate(engine)  # idempotent: a second start changes nothing
    assert _schema_diff(engine) == []
    engine.dispose()
