"""Commands that run the service's processes: serve, worker, relay, run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import IO

import typer

from infrastructure.logging_setup import configure_logging
from infrastructure.settings import Settings

COLORS = {"api": "\033[36m", "worker": "\033[35m", "relay": "\033[33m"}
RESET = "\033[0m"


def _celery_worker_argv(concurrency: int, pool: str, loglevel: str) -> list[str]:
    settings = Settings()
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.app",
        "worker",
        "-Q",
        settings.replication_queue,
        "--concurrency",
        str(concurrency),
        "--pool",
        pool,
        "--loglevel",
        loglevel,
        "--without-gossip",
        "--without-mingle",
    ]


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="API processes."),
) -> None:
    """Run the HTTP API (uvicorn api.main:app)."""
    import uvicorn

    configure_logging(Settings().log_level)
    uvicorn.run("api.main:app", host=host, port=port, workers=workers, log_config=None)


def worker(
    concurrency: int = typer.Option(2, help="Worker processes/threads."),
    pool: str = typer.Option("prefork", help="Celery pool: prefork, threads or solo."),
    loglevel: str = typer.Option("INFO", help="Log level."),
) -> None:
    """Run a Celery replication worker (celery -A workers.app worker)."""
    os.execv(sys.executable, _celery_worker_argv(concurrency, pool, loglevel))


def relay(once: bool = typer.Option(False, help="Run one round and exit.")) -> None:
    """Run the outbox relay: re-send events the queue never got or lost."""
    from infrastructure.container import bootstrap
    from infrastructure.messaging.relay_loop import run_relay

    settings = Settings()
    configure_logging(settings.log_level)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    container = bootstrap(settings)
    try:
        sent = run_relay(container, stop, once=once)
    except KeyboardInterrupt:
        sent = 0
    if once:
        typer.echo(f"relay: {sent} events published")


def _pump(name: str, stream: IO[bytes]) -> None:
    color = COLORS.get(name, "") if sys.stdout.isatty() else ""
    reset = RESET if color else ""
    for raw in iter(stream.readline, b""):
        sys.stdout.write(f"{color}{name:>6} |{reset} {raw.decode(errors='replace')}")
        sys.stdout.flush()


def run(
    host: str = typer.Option("127.0.0.1", help="API interface."),
    port: int = typer.Option(8000, help="API port."),
) -> None:
    """Run everything (API, worker, relay) in one terminal; Ctrl-C stops all.

    With no configuration this is the embedded default: ORM=dual, SQLite and the
    embedded MongoDB-compatible server in ./.dualwrite, and a broker in files.
    """
    os.environ.setdefault("ORM", "dual")
    env = dict(os.environ)
    settings = Settings()
    configure_logging(settings.log_level)
    started_embedded = _prepare_stores(settings)
    commands = {
        "api": [sys.executable, "-m", "cli.main", "serve", "--host", host, "--port", str(port)],
        "worker": _celery_worker_argv(2, "threads", "INFO"),
        "relay": [sys.executable, "-m", "cli.main", "relay"],
    }
    children: dict[str, subprocess.Popen[bytes]] = {}
    for name, argv in commands.items():
        child = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        children[name] = child
        assert child.stdout is not None
        threading.Thread(target=_pump, args=(name, child.stdout), daemon=True).start()
    typer.echo(f"dualwrite running: API on http://{host}:{port} (docs at /docs). Ctrl-C stops all.")
    try:
        while all(child.poll() is None for child in children.values()):
            threading.Event().wait(0.5)
        failed = [name for name, child in children.items() if child.poll() is not None]
        typer.echo(f"dualwrite: {', '.join(failed)} stopped; stopping the rest", err=True)
    except KeyboardInterrupt:
        typer.echo("\ndualwrite: stopping…")
    finally:
        _stop_all(children)
        if started_embedded:
            from infrastructure.mongo.embedded_server import stop_embedded_server

            stop_embedded_server(settings.mongo_data_dir())


def _prepare_stores(settings: Settings) -> bool:
    """Create the schema and start the embedded server once, before the children race.

    Return whether this call started the embedded server (so ``run`` stops it on exit).
    """
    from infrastructure.container import bootstrap
    from infrastructure.mongo.embedded_server import embedded_server_running

    uses_mongo = settings.orm.value in ("dual", "mongo")
    embedded = uses_mongo and settings.mongo_url is None
    was_running = embedded and embedded_server_running(settings.mongo_data_dir())
    container = bootstrap(settings)
    try:
        _ = container.engine
        if uses_mongo:
            container.mongo_repository.ensure_indexes()
    finally:
        container.close()
    return embedded and not was_running


def _stop_all(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children.values():
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


def register(app: typer.Typer) -> None:
    for command in (serve, worker, relay, run):
        app.command()(command)
