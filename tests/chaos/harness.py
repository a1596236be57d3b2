"""The whole service as real processes, with handles to break each part.

One :class:`ChaosStack` per scenario: its own PostgreSQL database (reached by the API
through a :class:`TcpProxy` that can be cut), its own secantusd MongoDB-wire server, its
own redis-server, an API process (``dualwrite serve``, ``ORM=dual``, queued mode), Celery
worker processes and a relay process (``dualwrite relay``). Timeouts, retry backoff and
the relay's re-dispatch delay are short so that every fault heals within the scenario.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import httpx
import redis
import sqlalchemy as sa
from pymongo import MongoClient

from core.domain.models.reconciliation import ReconcileReport
from infrastructure.container import bootstrap
from infrastructure.mongo.client import MongoDocument, create_mongo_client
from infrastructure.mongo.embedded_server import free_port
from infrastructure.settings import Settings
from infrastructure.sqlalchemy.engine import create_sql_engine, migrate
from tests.support.services import (
    REPO_ROOT,
    CeleryWorker,
    MongoServer,
    PostgresDatabase,
    RedisServer,
    wait_for,
)
from tests.support.tcp_proxy import TcpProxy

REDISPATCH_AFTER_SECONDS = 5


class ServiceProcess:
    """A ``dualwrite`` CLI command run as its own process group, logging to a file."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            self.argv,
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, n: int = 3000) -> str:
        return self.log_path.read_bytes()[-n:].decode(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


class ChaosStack:
    """API + workers + relay over PostgreSQL, the MongoDB-wire server and Redis."""

    def __init__(self, workdir: Path, *, workers: int = 1) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.worker_count = workers
        self.queue = f"chaos.{uuid.uuid4().hex[:10]}"
        self.mongo_db = f"chaos_{uuid.uuid4().hex[:10]}"
        self.pg = PostgresDatabase()
        pg_url = sa.engine.make_url(self.pg.url)
        self.pg_proxy = TcpProxy(int(pg_url.port or 5432), str(pg_url.host or "127.0.0.1"))
        self.api_database_url = pg_url.set(port=self.pg_proxy.port).render_as_string(hide_password=False)
        self.mongo = MongoServer(workdir / "mongo" / "db")
        self.redis = RedisServer(workdir / "redis")
        self.api_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        self.engine = create_sql_engine(self.pg.url)
        self.workers: list[CeleryWorker] = []
        self.api: ServiceProcess | None = None
        self.relay: ServiceProcess | None = None
        self._mongo_client: MongoClient[MongoDocument] | None = None

    # -- configuration -------------------------------------------------------------------
    def env(self, database_url: str | None = None) -> dict[str, str]:
        """The environment every service process gets."""
        return {
            "ORM": "dual",
            "DATABASE_URL": database_url or self.pg.url,
            "MONGO_URL": self.mongo.url,
            "BROKER_URL": self.redis.url,
            "DUALWRITE_MONGO_DB": self.mongo_db,
            "DUALWRITE_MONGO_TIMEOUT_MS": "1500",
            "DUALWRITE_DUAL_WRITE_MODE": "queued",
            "DUALWRITE_REPLICATION_QUEUE": self.queue,
            "DUALWRITE_DATA_DIR": str(self.workdir / "data"),
            "DUALWRITE_RELAY_REDISPATCH_AFTER_SECONDS": str(REDISPATCH_AFTER_SECONDS),
            "DUALWRITE_RELAY_INTERVAL_SECONDS": "0.5",
            "DUALWRITE_RETRY_MAX": "100",
            "DUALWRITE_RETRY_BACKOFF_SECONDS": "1",
            "DUALWRITE_RETRY_BACKOFF_MAX_SECONDS": "3",
            "DUALWRITE_PUBLISH_TIMEOUT_SECONDS": "1",
            "DUALWRITE_LOG_LEVEL": "INFO",
        }

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> ChaosStack:
        migrate(self.engine)
        self.pg_proxy.open()
        self.mongo.start()
        self.redis.start()
        cli = [sys.executable, "-m", "cli.main"]
        self.api = ServiceProcess(
            "api",
            [*cli, "serve", "--port", str(self.api_port)],
            self.env(self.api_database_url),
            self.workdir / "api.log",
        ).start()
        self.relay = ServiceProcess("relay", [*cli, "relay"], self.env(), self.workdir / "relay.log").start()
        for _ in range(self.worker_count):
            self.start_worker()
        wait_for(self._api_ready, 60, 0.2, "the API to answer /readyz")
        return self

    def _api_ready(self) -> bool:
        assert self.api is not None
        if not self.api.alive():
            raise RuntimeError(f"the API exited: {self.api.tail()}")
        try:
            return httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def start_worker(self, concurrency: int = 2) -> CeleryWorker:
        log = self.workdir / f"worker-{len(self.workers)}.log"
        worker = CeleryWorker(self.env(), log, concurrency=concurrency).start()
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for part in (self.api, self.relay, *self.workers):
            if part is not None:
                part.stop()
        if self._mongo_client is not None:
            self._mongo_client.close()
        self.pg_proxy.close()
        self.redis.stop()
        self.mongo.stop()
        self.engine.dispose()
        self.pg.drop()

    def logs(self) -> str:
        """The tail of every process log, for a failing assertion's message."""
        parts = [p for p in (self.api, self.relay) if p is not None]
        tails = [f"--- {p.name} ---\n{p.tail()}" for p in parts]
        tails += [f"--- worker {i} ---\n{w.tail()}" for i, w in enumerate(self.workers)]
        return "\n".join(tails)

    # -- inspection ----------------------------------------------------------------------
    @property
    def mongo_client(self) -> MongoClient[MongoDocument]:
        if self._mongo_client is None:
            self._mongo_client = create_mongo_client(self.mongo.url, timeout_ms=3000)
        return self._mongo_client

    def reconcile(self) -> ReconcileReport:
        """The product's own drift check (read-only: no repair) over both stores."""
        container = bootstrap(
            Settings(
                orm="dual",
                data_dir=self.workdir / "data",
                database_url=self.pg.url,
                mongo_url=self.mongo.url,
                mongo_db=self.mongo_db,
                broker_url=self.redis.url,
                replication_queue=self.queue,
            )
        )
        try:
            return container.reconciliar().execute(chunk_size=200)
        finally:
            container.close()

    def redis_client(self) -> redis.Redis[bytes]:
        return redis.Redis.from_url(self.redis.url, socket_timeout=2)

    def unacked_messages(self) -> int:
        """Messages delivered to a worker but not yet acknowledged (kombu's Redis QoS)."""
        try:
            return int(self.redis_client().hlen("unacked"))
        except redis.RedisError:
            return -1
