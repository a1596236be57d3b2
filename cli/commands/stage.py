"""``dualwrite stage show|set``: see and change the migration stage of every process."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from core.application.cambiar_etapa import CambiarEtapaCommand, CambioDeEtapaRechazadoError
from core.domain.errors import StoreUnavailableError
from core.domain.models.migration_stage import MigrationStage
from infrastructure.container import Container, bootstrap
from infrastructure.settings import Settings

stage_app = typer.Typer(
    name="stage",
    help="Migration stage (sql_only -> dual_write -> shadow -> mongo_primary -> mongo_only).",
    no_args_is_help=True,
)


@contextmanager
def _container() -> Iterator[Container]:
    container = bootstrap(Settings())
    try:
        yield container
    except StoreUnavailableError as exc:
        typer.echo(f"stage: {exc}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        container.close()


@stage_app.command("show")
def show(history: int = typer.Option(10, min=0, max=1000, help="How many past changes to list.")) -> None:
    """Print the stage in force, what it does with each store, and recent changes."""
    with _container() as container:
        stage = container.migration.current_stage()
        stored = container.migration.stage_store.current()
        plan = stage.plan
        origin = "set by an operator" if stored is not None else "from ORM; no stage set yet"
        typer.echo(f"stage: {stage.value} ({origin})")
        typer.echo(f"  authoritative: {plan.authoritative.value}")
        typer.echo(f"  replicated:    {plan.replica.value if plan.replica else '-'}")
        typer.echo(
            f"  reads:         {plan.read.value}{' (+ shadow reads of the replica)' if plan.shadow else ''}"
        )
        changes = container.migration.stage_store.history(history) if history else []
        if changes:
            typer.echo("history (newest first):")
        for change in changes:
            forced = f"  FORCED over: {'; '.join(change.reasons)}" if change.forced else ""
            origin_stage = change.from_stage.value if change.from_stage else "-"
            typer.echo(
                f"  {change.changed_at.isoformat()}  {origin_stage} -> {change.to_stage.value}"
                f"  by {change.changed_by}{forced}"
            )


@stage_app.command("set")
def set_stage(
    stage: MigrationStage = typer.Argument(..., help="The stage to move to."),
    force: bool = typer.Option(False, "--force", help="Override the guard rails (recorded as forced)."),
    by: str = typer.Option("", help="Who is changing it (default: cli:<user>)."),
) -> None:
    """Move every API process and worker to STAGE within about a second; no restart."""
    with _container() as container:
        command = CambiarEtapaCommand(
            to_stage=stage, changed_by=by or f"cli:{getpass.getuser()}", force=force
        )
        try:
            result = container.cambiar_etapa().execute(command)
        except CambioDeEtapaRechazadoError as exc:
            typer.echo(f"stage: moving {exc.from_stage.value} -> {exc.to_stage.value} refused:", err=True)
            for reason in exc.reasons:
                typer.echo(f"  - {reason}", err=True)
            typer.echo("  (use --force to override; the override is recorded)", err=True)
            raise typer.Exit(code=1) from None
    if result.change is None:
        typer.echo(f"stage: already {stage.value}")
        return
    forced = " (forced)" if result.change.forced else ""
    typer.echo(f"stage: {result.from_stage.value} -> {result.to_stage.value}{forced}")
    if result.backfilled:
        typer.echo(f"stage: backfilled {result.backfilled} Tareas into the new replica")


def register(app: typer.Typer) -> None:
    app.add_typer(stage_app, name="stage")
