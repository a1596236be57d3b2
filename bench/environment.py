"""The stores and processes a benchmark run uses, all private to the run.

PostgreSQL (a fresh database on the local server) and Redis (a private redis-server on
a free port) when available, else SQLite and the ``filesystem://`` broker. MongoDB is
the ``secantusd-py`` server, reached directly or through :mod:`bench.latency_proxy`.
The process helpers are the test suite's (``tests.support.services``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from infrastructure.mongo.embedded_server import free_port, mongo_url_for_port
from tests.support.services import (
    REPO_ROOT,
    CeleryWorker,
    MongoServer,
    PostgresDatabase,
    RedisServer,
    port_open,
    postgres_available,
    wait_for,
)


@dataclass
class ChildProcess:
    """A child of the benchmark in its own process group, stopped with the run."""

    name: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def spawn(name: str, argv: list[str], env: dict[str, str], log: Path) -> ChildProcess:
    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return ChildProcess(name, process)


@dataclass
class BenchEnvironment:
    workdir: Path
    database_url: str
    broker_url: str
    mongo: MongoServer
    sql_kind: str
    broker_kind: str
    _pg: PostgresDatabase | None = None
    _redis: RedisServer | None = None
    _proxies: dict[float, tuple[ChildProcess, str]] = field(default_factory=dict)
    _children: list[ChildProcess] = field(default_factory=list)

    @classmethod
    def start(cls, workdir: Path) -> BenchEnvironment:
        workdir.mkdir(parents=True, exist_ok=True)
        mongo = MongoServer(workdir / "mongo" / "db").start()
        pg = PostgresDatabase() if postgres_available() else None
        redis = RedisServer(workdir / "redis").start() if shutil.which("redis-server") else None
        return cls(
            workdir=workdir,
            database_url=pg.url if pg else f"sqlite:///{workdir / 'bench.db'}",
            broker_url=redis.url if redis else "filesystem://",
            mongo=mongo,
            sql_kind="postgresql" if pg else "sqlite",
            broker_kind="redis" if redis else "filesystem",
            _pg=pg,
            _redis=redis,
        )

    def mongo_url(self, delay_ms: float = 0.0) -> str:
        """The direct server for 0 ms; otherwise a latency proxy in front of it."""
        if delay_ms <= 0:
            return self.mongo.url
        if delay_ms not in self._proxies:
            port = free_port()
            argv = [
                sys.executable,
                "-m",
                "bench.latency_proxy",
                "--target",
                f"127.0.0.1:{self.mongo.port}",
                "--delay-ms",
                str(delay_ms),
                "--port",
                str(port),
            ]
            child = spawn(f"proxy-{delay_ms:g}ms", argv, {}, self.workdir / f"proxy-{delay_ms:g}.log")
            wait_for(lambda: port_open(port), 20, message=f"latency proxy on {port}")
            self._proxies[delay_ms] = (child, mongo_url_for_port(port))
        return self._proxies[delay_ms][1]

    def app_env(
        self,
        *,
        orm: str,
        mode: str = "queued",
        delay_ms: float = 0.0,
        queue: str = "",
        linger_ms: float = 0.0,
        publish_via: str = "request",
    ) -> dict[str, str]:
        """Environment of an API / worker process of this run."""
        return {
            "ORM": orm,
            "DATABASE_URL": self.database_url,
            "MONGO_URL": self.mongo_url(delay_ms),
            "MONGO_DB": "bench",
            "BROKER_URL": self.broker_url,
            "DUALWRITE_DUAL_WRITE_MODE": mode,
            "DUALWRITE_PUBLISH_LINGER_MS": str(linger_ms),
            "DUALWRITE_PUBLISH_VIA": publish_via,
            "DUALWRITE_REPLICATION_QUEUE": queue or f"bench.{uuid.uuid4().hex[:8]}",
            "DUALWRITE_DATA_DIR": str(self.workdir / "data"),
            # Same for every mode; request logging would otherwise dominate the profile.
            "DUALWRITE_LOG_LEVEL": "WARNING",
        }

    def start_api(self, name: str, env: dict[str, str]) -> tuple[ChildProcess, str]:
        """A real API process (``dualwrite serve``), ready when /readyz answers 200."""
        port = free_port()
        argv = [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)]
        child = spawn(name, argv, env, self.workdir / f"api-{name}.log")
        self._children.append(child)
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if child.process.poll() is not None:
                raise RuntimeError(f"API {name} exited; see {self.workdir / f'api-{name}.log'}")
            try:
                return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 60, 0.2, f"API {name}")
        return child, base

    def start_relay(self, name: str, env: dict[str, str]) -> ChildProcess:
        """A real relay process (``dualwrite relay``), stopped with the run."""
        argv = [sys.executable, "-m", "cli.main", "relay"]
        child = spawn(name, argv, env, self.workdir / f"relay-{name}.log")
        self._children.append(child)
        return child

    def start_worker(self, env: dict[str, str], concurrency: int = 2, pool: str = "prefork") -> CeleryWorker:
        worker = CeleryWorker(env, self.workdir / "worker.log", concurrency=concurrency, pool=pool)
        return worker.start(timeout=90)

    def close(self) -> None:
        for child in self._children:
            child.stop()
        for child, _ in self._proxies.values():
            child.stop()
        self.mongo.stop()
        if self._redis is not None:
            self._redis.stop()
        if self._pg is not None:
            self._pg.drop()
