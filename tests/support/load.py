"""A bounded HTTP write load that records exactly what the service acknowledged.

A few threads each create, replace (PUT with ``expected_version``) and delete their own
Tareas through the API for a bounded time. Because no two threads touch the same Tarea,
the last acknowledged answer for a Tarea is what the stores must hold: every 2xx is
recorded with the version it returned, every failure with its status. After a failed
write the outcome is unknown (the server may have committed before the connection
broke), so the Tarea is marked *in doubt* and never touched again; its stores must then
agree with each other at the last acknowledged version or newer.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

ESTADOS = ("pendiente", "en_progreso", "completada", "cancelada")


@dataclass(frozen=True)
class AckedWrite:
    """A write the API acknowledged (2xx)."""

    op: str
    tarea_id: str
    version: int | None  # None for a delete
    started: float  # time.monotonic()
    seconds: float


@dataclass(frozen=True)
class FailedWrite:
    """A write that did not get a 2xx: ``status`` is the HTTP code or the transport error."""

    op: str
    status: str
    titulo: str
    tarea_id: str | None
    started: float
    seconds: float
    detail: str


@dataclass
class Expected:
    """What the stores must hold for one Tarea after the load."""

    version: int
    titulo: str
    descripcion: str
    estado: str
    deleted: bool = False
    in_doubt: bool = False


@dataclass
class LoadReport:
    acked: list[AckedWrite] = field(default_factory=list)
    failed: list[FailedWrite] = field(default_factory=list)
    expected: dict[str, Expected] = field(default_factory=dict)
    titulo_prefix: str = ""

    def failures_by_status(self) -> dict[str, int]:
        return dict(Counter(f.status for f in self.failed))

    def acked_by_op(self) -> dict[str, int]:
        return dict(Counter(a.op for a in self.acked))

    def max_seconds(self) -> float:
        return max([a.seconds for a in self.acked] + [f.seconds for f in self.failed], default=0.0)


class LoadGenerator:
    """Runs ``threads`` writers against ``base_url`` for at most ``duration`` seconds."""

    def __init__(
        self,
        base_url: str,
        *,
        threads: int = 4,
        duration: float = 10.0,
        pause: float = 0.02,
        request_timeout: float = 10.0,
        seed: int | None = None,
    ) -> None:
        self.base_url = base_url
        self.threads = threads
        self.duration = duration
        self.pause = pause
        self.request_timeout = request_timeout
        self.report = LoadReport(titulo_prefix=f"load-{uuid.uuid4().hex[:8]}")
        self._seed = seed if seed is not None else random.randrange(1 << 30)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._counter = itertools.count()

    # -- control -------------------------------------------------------------------------
    def start(self) -> LoadGenerator:
        deadline = time.monotonic() + self.duration
        for index in range(self.threads):
            worker = threading.Thread(
                target=self._run, args=(index, deadline), name=f"load-{index}", daemon=True
            )
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> LoadReport:
        """Stop early (or after the duration) and wait for in-flight requests."""
        self._stop.set()
        return self.join()

    def join(self) -> LoadReport:
        for worker in self._workers:
            worker.join(self.duration + self.request_timeout + 10)
            if worker.is_alive():
                raise TimeoutError(f"load thread {worker.name} did not finish")
        return self.report

    def acked_count(self) -> int:
        with self._lock:
            return len(self.report.acked)

    # -- one writer ----------------------------------------------------------------------
    def _run(self, index: int, deadline: float) -> None:
        rng = random.Random(self._seed + index)
        owned: list[str] = []
        with httpx.Client(base_url=self.base_url, timeout=self.request_timeout) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                roll = rng.random()
                if len(owned) < 3 or roll < 0.35:
                    self._create(client, rng, owned)
                elif roll < 0.88:
                    self._replace(client, rng, rng.choice(owned), owned)
                else:
                    self._delete(client, rng.choice(owned), owned)
                self._stop.wait(self.pause)

    def _titulo(self) -> str:
        return f"{self.report.titulo_prefix}-{next(self._counter)}"

    def _create(self, client: httpx.Client, rng: random.Random, owned: list[str]) -> None:
        body = {"titulo": self._titulo(), "descripcion": f"d{rng.randrange(10**6)}", "estado": "pendiente"}
        response = self._send(client, "POST", "/tareas", body, None)
        if response is not None and response.status_code == 201:
            data = response.json()
            self._ack("create", data["id"], data, response)
            owned.append(data["id"])

    def _replace(self, client: httpx.Client, rng: random.Random, tarea_id: str, owned: list[str]) -> None:
        with self._lock:
            current = self.report.expected[tarea_id]
        body = {
            "titulo": self._titulo(),
            "descripcion": f"d{rng.randrange(10**6)}",
            "estado": rng.choice(ESTADOS),
            "expected_version": current.version,
        }
        response = self._send(client, "PUT", f"/tareas/{tarea_id}", body, tarea_id)
        if response is not None and response.status_code == 200:
            self._ack("update", tarea_id, response.json(), response)
        else:
            self._forget(tarea_id, owned)

    def _delete(self, client: httpx.Client, tarea_id: str, owned: list[str]) -> None:
        response = self._send(client, "DELETE", f"/tareas/{tarea_id}", None, tarea_id)
        if response is not None and response.status_code == 204:
            self._ack("delete", tarea_id, None, response)
            owned.remove(tarea_id)
        else:
            self._forget(tarea_id, owned)

    def _send(
        self, client: httpx.Client, method: str, path: str, body: dict[str, Any] | None, tarea_id: str | None
    ) -> httpx.Response | None:
        """Send one request; record it as failed (and return None) unless it got a 2xx."""
        started = time.monotonic()
        titulo = str(body["titulo"]) if body else ""
        try:
            response = client.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            self._fail(method, "timeout", titulo, tarea_id, started, repr(exc))
            return None
        except httpx.TransportError as exc:
            self._fail(method, "transport_error", titulo, tarea_id, started, repr(exc))
            return None
        if response.is_success:
            return response
        self._fail(method, str(response.status_code), titulo, tarea_id, started, response.text[:300])
        return None

    def _ack(self, op: str, tarea_id: str, data: dict[str, Any] | None, response: httpx.Response) -> None:
        seconds = response.elapsed.total_seconds()
        with self._lock:
            if data is None:
                previous = self.report.expected[tarea_id]
                previous.deleted = True
                version = None
            else:
                version = int(data["version"])
                self.report.expected[tarea_id] = Expected(
                    version, data["titulo"], data["descripcion"], data["estado"]
                )
            self.report.acked.append(AckedWrite(op, tarea_id, version, time.monotonic() - seconds, seconds))

    def _fail(
        self, method: str, status: str, titulo: str, tarea_id: str | None, started: float, detail: str
    ) -> None:
        with self._lock:
            self.report.failed.append(
                FailedWrite(method, status, titulo, tarea_id, started, time.monotonic() - started, detail)
            )

    def _forget(self, tarea_id: str, owned: list[str]) -> None:
        """The write's outcome is unknown: keep the Tarea out of further writes."""
        with self._lock:
            self.report.expected[tarea_id].in_doubt = True
        if tarea_id in owned:
            owned.remove(tarea_id)
