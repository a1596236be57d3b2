"""How the relay waits for new outbox events: PostgreSQL notifications, else a timer."""

from __future__ import annotations

import abc
import logging
import threading

import psycopg
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

# The channel migration 0004's trigger notifies when an undispatched event is inserted.
OUTBOX_CHANNEL = "dualwrite_outbox"


class OutboxWakeup(abc.ABC):
    """Blocks the relay until there may be events to publish."""

    @abc.abstractmethod
    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """Return when events may be waiting, after ``timeout`` seconds at the latest,
        or soon after ``stop`` is set; True when the database announced new events."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the wakeup holds."""


class PollingWakeup(OutboxWakeup):
    """A plain timer: the relay looks every ``timeout`` seconds (SQLite)."""

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        stop.wait(timeout)
        return False


class PostgresNotifyWakeup(OutboxWakeup):
    """LISTENs on :data:`OUTBOX_CHANNEL` on its own connection.

    Notifications only shorten the wait: the relay still looks every ``timeout``
    seconds, so a lost connection (reopened on the next wait) or a missed notification
    delays events, never loses them. Notifications that piled up while the relay was
    busy are all consumed by one wake, so a burst costs one round, not one per write.
    """

    # How often a wait checks ``stop``: the longest a shutdown waits for the relay.
    STOP_CHECK_SECONDS = 0.5

    def __init__(self, engine: Engine) -> None:
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        try:
            conn = self._listening()
        except psycopg.Error as exc:
            logger.warning(f"⚠️ Relay cannot LISTEN, polling instead: {exc}")
            stop.wait(timeout)
            return False
        remaining = timeout
        try:
            while remaining > 0 and not stop.is_set():
                step = min(remaining, self.STOP_CHECK_SECONDS)
                if any(True for _ in conn.notifies(timeout=step, stop_after=1)):
                    self._drain(conn)
                    return True
                remaining -= step
        except psycopg.Error as exc:
            logger.warning(f"⚠️ Relay lost its LISTEN connection: {exc}")
            self.close()
        return False

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _listening(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
            conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
            self._conn = conn
        return self._conn

    @staticmethod
    def _drain(conn: psycopg.Connection[tuple[object, ...]]) -> None:
        """Consume notifications already received, without waiting for more."""
        for _ in conn.notifies(timeout=0):
            pass


def outbox_wakeup_for(engine: Engine) -> OutboxWakeup:
    """LISTEN/NOTIFY on PostgreSQL, a timer elsewhere."""
    if engine.dialect.name == "postgresql":
        return PostgresNotifyWakeup(engine)
    return PollingWakeup()
