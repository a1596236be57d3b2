"""Operator commands: status, dlq (list/show/replay/purge), reconcile, backfill.

Exit codes: 0 ok; 1 drift found, or an event not found / in the wrong state;
2 bad arguments or configuration; 3 a store is unreachable. Never a traceback.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.domain.errors import DualWriteError, StoreUnavailableError
from core.domain.models.operations import (
    ConfirmationRequiredError,
    EventNotFoundError,
    EventQuery,
    EventStateError,
    InvalidQueryError,
    OutboxEvent,
    ReplicationStatus,
)
from core.domain.models.reconciliation import BackfillProgress, ChunkProgress, ReconcileReport
from infrastructure.container import Container, bootstrap
from infrastructure.reporting.operations_json import (
    backfill_json,
    event_detail_json,
    event_page_json,
    reconcile_json,
    status_json,
)
from infrastructure.settings import Settings

EXIT_DRIFT = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
DRIFT_ROWS_SHOWN = 50

JsonOption = typer.Option(False, "--json", help="Print JSON for scripts instead of tables.")
out = Console()
err = Console(stderr=True)

dlq = typer.Typer(help="Dead letters: list, show, replay or purge failed replication events.")


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


@contextlib.contextmanager
def operating() -> Iterator[Container]:
    """A container for one command, with every expected failure turned into a message."""
    try:
        container = bootstrap(Settings())
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"invalid configuration: {'.'.join(map(str, first['loc']))}: {first['msg']}", EXIT_USAGE)
    try:
        yield container
    except InvalidQueryError as exc:
        _fail(f"{exc.field}: {exc.message}", EXIT_USAGE)
    except ConfirmationRequiredError as exc:
        _fail(f"{exc}: add --yes", EXIT_USAGE)
    except (EventNotFoundError, EventStateError) as exc:
        _fail(str(exc), EXIT_DRIFT)
    except StoreUnavailableError as exc:
        _fail(f"{exc.store} is unreachable: {exc.detail}", EXIT_UNAVAILABLE)
    except DualWriteError as exc:
        _fail(str(exc), EXIT_UNAVAILABLE)
    finally:
        container.close()


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


# -- status --------------------------------------------------------------------------
def status(as_json: bool = JsonOption) -> None:
    """How far MongoDB lags, what is pending or dead, and how many Tareas each store holds."""
    with operating() as container:
        result = container.estado_replicacion().execute()
    if as_json:
        _print_json(status_json(result))
        return
    out.print(_status_table(result))


def _status_table(result: ReplicationStatus) -> Table:
    stats = result.outbox
    table = Table(title="dualwrite status", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for count in result.stores:
        name = {"sql": "SQL", "mongo": "MongoDB"}.get(count.store, count.store)
        shown = str(count.tareas) if count.tareas is not None else f"[red]unreachable[/red] ({count.error})"
        table.add_row(f"Tareas in {name}", shown)
    table.add_row(
        "Pending events",
        f"{stats.pending} (waiting {stats.waiting}, in flight {stats.in_flight}, retrying {stats.retrying})",
    )
    dead = f"[red]{stats.dead}[/red]" if stats.dead else "0"
    table.add_row("Dead letters", dead)
    table.add_row("Lag", f"{result.lag_seconds:.1f} s")
    table.add_row("Last applied", stats.last_applied_at.isoformat() if stats.last_applied_at else "-")
    workers = result.workers
    if workers.reachable:
        table.add_row("Workers", f"[green]{workers.workers} answering[/green]")
    else:
        table.add_row(
            "Workers",
            f"[yellow]{'unknown' if workers.reachable is None else 'none'}[/yellow]: {workers.detail}",
        )
    return table


# -- dead letters --------------------------------------------------------------------
def _query(
    status: str | None,
    operation: str | None,
    error_type: str | None,
    older_than: float | None,
    limit: int,
    cursor: int | None,
) -> EventQuery:
    return EventQuery(
        state=status,  # type: ignore[arg-type]  # validated (and converted) by EventQuery
        operation=operation,  # type: ignore[arg-type]
        error_type=error_type,
        older_than_seconds=older_than,
        limit=limit,
        cursor=cursor,
    )


StatusOption = typer.Option("dead", "--status", help="pending, retrying or dead.")
OperationOption = typer.Option(None, "--operation", help="upsert or delete.")
ErrorTypeOption = typer.Option(None, "--error-type", help="Exception class name, e.g. StoreUnavailableError.")
OlderThanOption = typer.Option(None, "--older-than", help="Only events created more than N seconds ago.")


@dlq.command("list")
def dlq_list(
    status: str = StatusOption,
    operation: str | None = OperationOption,
    error_type: str | None = ErrorTypeOption,
    older_than: float | None = OlderThanOption,
    limit: int = typer.Option(50, help="Events per page (1-500)."),
    cursor: int | None = typer.Option(None, help="next_cursor of the previous page."),
    as_json: bool = JsonOption,
) -> None:
    """List undone events (dead letters by default)."""
    with operating() as container:
        page = container.listar_eventos().execute(
            _query(status, operation, error_type, older_than, limit, cursor)
        )
    if as_json:
        _print_json(event_page_json(page))
        return
    out.print(_events_table(page.items))
    if page.next_cursor is not None:
        out.print(f"more: --cursor {page.next_cursor}")


def _events_table(events: list[OutboxEvent]) -> Table:
    table = Table("id", "status", "operation", "tarea", "version", "attempts", "error", "created")
    for e in events:
        error = f"{e.last_error_type}: {e.last_error}" if e.last_error_type else ""
        table.add_row(
            str(e.event_id),
            e.state,
            e.operation.value,
            str(e.tarea_id),
            str(e.version),
            str(e.attempts),
            error[:60],
            e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


@dlq.command("show")
def dlq_show(event_id: int = typer.Argument(..., min=1), as_json: bool = JsonOption) -> None:
    """One event with its payload and every failed attempt."""
    with operating() as container:
        detail = container.obtener_evento().execute(event_id)
    data = event_detail_json(detail)
    if as_json:
        _print_json(data)
        return
    attempts = data.pop("attempt_log")
    payload = data.pop("payload")
    for key, value in data.items():
        out.print(f"[bold]{key}[/bold]: {value}", highlight=False)
    out.print(f"[bold]payload[/bold]: {json.dumps(payload)}", highlight=False)
    table = Table("attempt", "error type", "error", "at", title="attempts")
    for a in attempts:
        table.add_row(str(a["attempt"]), a["error_type"], a["error"], a["at"])
    out.print(table)


def _bulk(
    ids: list[int],
    has_filter: bool,
    everything: bool,
    single: Callable[[int], list[int]],
    bulk: Callable[[], list[int]],
) -> list[int]:
    if ids and (has_filter or everything):
        _fail("give event ids or filters, not both", EXIT_USAGE)
    if ids:
        return [moved for event_id in ids for moved in single(event_id)]
    if not has_filter and not everything:
        _fail("give event ids, a filter (--error-type, --operation, --older-than) or --all", EXIT_USAGE)
    return bulk()


@dlq.command("replay")
def dlq_replay(
    event_ids: list[int] = typer.Argument(None, help="Dead-lettered event ids.", min=1),
    operation: str | None = OperationOption,
    error_type: str | None = ErrorTypeOption,
    older_than: float | None = OlderThanOption,
    everything: bool = typer.Option(False, "--all", help="Every dead letter."),
    as_json: bool = JsonOption,
) -> None:
    """Queue dead-lettered events again (by id, or all matching the filters)."""
    with operating() as container:
        query = _query("dead", operation, error_type, older_than, 500, None)
        has_filter = any(v is not None for v in (operation, error_type, older_than))
        replayed = _bulk(
            list(event_ids or []),
            has_filter,
            everything,
            lambda i: container.reintentar_evento().execute(i),
            lambda: container.reintentar_eventos().execute(query),
        )
    if as_json:
        _print_json({"replayed": len(replayed), "event_ids": replayed})
    else:
        out.print(f"replayed {len(replayed)} event(s)")


@dlq.command("purge")
def dlq_purge(
    event_ids: list[int] = typer.Argument(None, help="Dead-lettered event ids.", min=1),
    operation: str | None = OperationOption,
    error_type: str | None = ErrorTypeOption,
    older_than: float | None = OlderThanOption,
    everything: bool = typer.Option(False, "--all", help="Every dead letter."),
    yes: bool = typer.Option(False, "--yes", help="Confirm: the events are deleted for good."),
    as_json: bool = JsonOption,
) -> None:
    """Delete dead-lettered events for good (needs --yes)."""
    with operating() as container:
        query = _query("dead", operation, error_type, older_than, 500, None)
        has_filter = any(v is not None for v in (operation, error_type, older_than))
        purged = _bulk(
            list(event_ids or []),
            has_filter,
            everything,
            lambda i: container.purgar_evento().execute(i, confirm=yes),
            lambda: container.purgar_eventos().execute(query, confirm=yes),
        )
    if as_json:
        _print_json({"purged": len(purged), "event_ids": purged})
    else:
        out.print(f"purged {len(purged)} event(s)")


# -- reconcile and backfill ----------------------------------------------------------
def reconcile(
    repair: bool = typer.Option(False, "--repair", help="Queue fixes through the outbox."),
    chunk_size: int = typer.Option(None, "--chunk-size", help="Ids per checksum chunk (1-100000)."),
    as_json: bool = JsonOption,
) -> None:
    """Compare SQL and MongoDB chunk by chunk; exit 1 when they differ."""
    with operating() as container:
        size = chunk_size if chunk_size is not None else container.settings.reconcile_chunk_size
        with _progress() as progress:
            task = progress.add_task("comparing chunks", total=None)

            def advance(p: ChunkProgress) -> None:
                progress.update(task, total=p.total, completed=p.done, description=f"drift so far: {p.drift}")

            report = container.reconciliar().execute(chunk_size=size, repair=repair, progress=advance)
    if as_json:
        _print_json(reconcile_json(report))
    else:
        _print_reconcile(report)
    if report.has_drift:
        raise typer.Exit(EXIT_DRIFT)


def _print_reconcile(report: ReconcileReport) -> None:
    data = reconcile_json(report)
    out.print(
        f"compared {report.rows_sql} SQL rows with {report.rows_mongo} MongoDB documents "
        f"in {report.chunks} chunks ({report.chunks_differing} differing)"
    )
    drift = data["drift"]
    out.print(f"drift: missing {drift['missing']}, extra {drift['extra']}, stale {drift['stale']}")
    if report.in_flight:
        out.print(f"in flight (pending events, not drift): {len(report.in_flight)}")
    if report.drift:
        table = Table("tarea", "kind", "sql version", "mongo version")
        for d in report.drift[:DRIFT_ROWS_SHOWN]:
            table.add_row(d.tarea_id, d.kind.value, str(d.sql_version or "-"), str(d.mongo_version or "-"))
        out.print(table)
    if report.repair:
        out.print(f"repair: {report.repair_events} event(s) queued, {len(report.repair_skipped)} skipped")
    elif report.drift:
        out.print("run with --repair to queue the fixes")


def backfill(
    batch_size: int = typer.Option(None, "--batch-size", help="Rows per batch (1-10000)."),
    restart: bool = typer.Option(False, "--restart", help="Forget the checkpoint; start from the first id."),
    as_json: bool = JsonOption,
) -> None:
    """Copy every SQL row into MongoDB (resumable; safe while writes continue)."""
    with operating() as container:
        size = batch_size if batch_size is not None else container.settings.backfill_batch_size
        with _progress() as progress:
            task = progress.add_task("copying rows", total=None)

            def advance(p: BackfillProgress) -> None:
                progress.update(task, total=max(p.total, p.copied), completed=p.copied)

            result = container.backfill().execute(batch_size=size, restart=restart, progress=advance)
    if as_json:
        _print_json(backfill_json(result))
        return
    resumed = f" (resumed after {result.resumed_from})" if result.resumed_from else ""
    out.print(
        f"copied {result.copied} row(s) in {result.batches} batch(es){resumed}: "
        f"{result.applied} written, {result.skipped} already as new in MongoDB; "
        f"{result.total_copied} copied in total"
    )


def register(app: typer.Typer) -> None:
    for command in (status, reconcile, backfill):
        app.command()(command)
    app.add_typer(dlq, name="dlq")
