"""Alembic environment: runs on the connection handed over by ``engine.migrate``,
or on ``DATABASE_URL`` when invoked as ``alembic`` from the command line."""

from __future__ import annotations

from alembic import context

from infrastructure.settings import Settings
from infrastructure.sqlalchemy.engine import create_sql_engine
from infrastructure.sqlalchemy.schema import metadata

connection = context.config.attributes.get("connection")
if connection is not None:
    context.configure(connection=connection, target_metadata=metadata)
    context.run_migrations()
else:
    engine = create_sql_engine(Settings().resolved_database_url())
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata)
        context.run_migrations()
