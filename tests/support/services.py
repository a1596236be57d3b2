"""Real service processes for tests: the MongoDB-compatible server, Celery workers,
PostgreSQL databases and Redis servers. Each is a real process on loopback.

MongoDB itself cannot be installed here, so ``secantusd-py`` (a MongoDB wire-protocol
server) plays the Mongo peer; pymongo talks to it exactly as to mongod.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from infrastructure.mongo.embedded_server import free_port, mongo_url_for_port, server_executable

REPO_ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get(
    "DUALWRITE_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("DUALWRITE_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def wait_for(predicate, timeout: float, interval: float = 0.1, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {message}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


class MongoServer:
    """A secantusd-py process on a free port; can be stopped and restarted (same data)."""

    def __init__(self, storage: Path, port: int | None = None) -> None:
        self.storage = storage
        self.port = port or free_port()
        self.url = mongo_url_for_port(self.port)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> MongoServer:
        self.storage.mkdir(parents=True, exist_ok=True)
        log = open(self.storage.parent / f"mongo-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                server_executable(),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                str(self.storage),
                "--log-level",
                "WARNING",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self.ping, timeout, 0.2, f"mongo server on {self.port}")
        return self

    def ping(self) -> bool:
        client: MongoClient[dict[str, object]] = MongoClient(self.url, serverSelectionTimeoutMS=300)
        try:
            client.admin.command("ping")
            return True
        except PyMongoError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        wait_for(lambda: not port_open(self.port), 10, message="mongo port to close")

    def restart(self) -> None:
        self.stop()
        self.start()


class PostgresDatabase:
    """A fresh database on the local PostgreSQL server, dropped on ``drop()``."""

    def __init__(self) -> None:
        self.name = f"dualwrite_test_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.name}"

    def drop(self) -> None:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


class RedisServer:
    """A private redis-server on a free port, so a test can stop and restart it."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: port_open(self.port), 10, message=f"redis on {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # data in Redis is lost, as in a crash
            self.process.wait()
        self.process = None


class CeleryWorker:
    """A real ``celery -A workers.app worker`` process with the given environment."""

    def __init__(
        self, env: dict[str, str], log_path: Path, concurrency: int = 2, pool: str = "threads"
    ) -> None:
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.concurrency = concurrency
        self.pool = pool
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> CeleryWorker:
        queue = self.env.get("DUALWRITE_REPLICATION_QUEUE", "dualwrite.replication")
        log = open(self.log_path, "ab")  # noqa: SIM115
        start_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.app",
                "worker",
                "-Q",
                queue,
                "--concurrency",
                str(self.concurrency),
                "--pool",
                self.pool,
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited: {self.tail()}")
            return b"ready." in self.log_path.read_bytes()[start_offset:]

        wait_for(ready, timeout, 0.2, "celery worker ready")
        return self

    def tail(self, n: int = 4000) -> str:
        return self.log_path.read_bytes()[-n:].decode(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL the whole worker process group (a crash mid-batch)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
