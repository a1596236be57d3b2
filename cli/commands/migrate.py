"""``dualwrite migrate``: bring the SQL schema to the latest revision, then exit.

Every process also migrates on first use; this one-shot command lets a deployment
(the compose ``migrate`` service, a release job) do it once, before the others start.
"""

from __future__ import annotations

import logging

import typer

from core.domain.errors import StoreUnavailableError
from infrastructure.container import bootstrap
from infrastructure.logging_setup import configure_logging
from infrastructure.settings import OrmBackend, Settings
from infrastructure.sqlalchemy.engine import create_sql_engine, migrate

logger = logging.getLogger(__name__)


def migrate_command() -> None:
    """Create or upgrade the SQL schema (Alembic) and MongoDB's indexes, then exit."""
    settings = Settings()
    configure_logging(settings.log_level)
    engine = create_sql_engine(settings.resolved_database_url())
    try:
        migrate(engine)
    except StoreUnavailableError as exc:
        typer.echo(f"migrate: the SQL database is unavailable: {exc}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    typer.echo(f"migrate: schema is up to date ({engine.url.get_backend_name()})")
    if settings.orm is not OrmBackend.SQLALCHEMY:
        _create_mongo_indexes(settings)


def _create_mongo_indexes(settings: Settings) -> None:
    # Before the service starts writing: an index build racing the write that creates
    # the collection can deadlock the embedded server (real MongoDB copes either way).
    container = bootstrap(settings)
    try:
        container.mongo_repository.ensure_indexes()
    except StoreUnavailableError as exc:
        typer.echo(f"migrate: MongoDB is unavailable: {exc}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        container.close()
    typer.echo("migrate: MongoDB indexes are in place")


def register(app: typer.Typer) -> None:
    app.command(name="migrate")(migrate_command)
