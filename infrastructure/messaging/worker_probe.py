"""WorkerProbe adapter: Celery's broadcast ``ping``, bounded by a hard deadline."""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery

from core.domain.models.operations import WorkerHealth
from core.domain.ports.operations import WorkerProbe

logger = logging.getLogger(__name__)


class CeleryWorkerProbe(WorkerProbe):
    """Pings the workers over the broker. Runs in a daemon thread so that a broker that
    hangs on connect cannot hold the caller longer than ``timeout_seconds`` + 1 s."""

    def __init__(self, app: Celery, timeout_seconds: float = 1.0) -> None:
        self._app = app
        self._timeout = timeout_seconds

    def ping(self) -> WorkerHealth:
        outcome: dict[str, Any] = {}

        def ask() -> None:
            try:
                outcome["replies"] = self._app.control.ping(timeout=self._timeout)
            except Exception as exc:  # the transport has no broadcast, or the broker is down
                outcome["error"] = exc

        thread = threading.Thread(target=ask, name="worker-ping", daemon=True)
        thread.start()
        thread.join(self._timeout + 1.0)
        if thread.is_alive():
            return WorkerHealth(False, 0, "broker did not answer in time")
        if "error" in outcome:
            error = outcome["error"]
            detail = f"cannot ping workers: {type(error).__name__}: {error}"[:300]
            return WorkerHealth(None, 0, detail)
        replies = outcome.get("replies") or []
        if not replies:
            return WorkerHealth(False, 0, f"no worker answered within {self._timeout:g}s")
        return WorkerHealth(True, len(replies), "")
