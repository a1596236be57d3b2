"""Celery application factory: broker, reliability options and task routing."""

from __future__ import annotations

from typing import Any

from celery import Celery

from infrastructure.settings import Settings

REPLICATE_TASK = "dualwrite.replicate"
RELAY_TASK = "dualwrite.relay"
RECONCILE_TASK = "dualwrite.reconcile"


def broker_options(settings: Settings) -> dict[str, Any]:
    """Transport options that keep publishing bounded in time and redelivery sane."""
    url = settings.resolved_broker_url()
    if url.startswith("filesystem://"):
        folder = settings.broker_folder()
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        # One folder for in and out: producers and consumers in other processes share it.
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            # Broadcasts (worker pings, remote control) also go through files; the
            # transport's default would be a "control" folder in the working directory.
            "control_folder": str(folder / "control"),
            # The file transport polls; the default second would add up to a second to
            # every replication and make a 1 s worker ping miss its answers.
            "polling_interval": 0.1,
        }
    # Redis: an unacknowledged message (acks_late) comes back after visibility_timeout.
    # Retries wait in the worker as ETA messages, so the timeout must exceed the longest
    # retry delay, or a retry would be delivered twice (harmless, but wasteful).
    visibility = max(3600, 4 * settings.retry_backoff_max_seconds)
    timeout = settings.publish_timeout_seconds
    return {
        "visibility_timeout": visibility,
        "socket_connect_timeout": timeout,
        "socket_timeout": max(timeout, 5.0),
        "max_retries": 0,
    }


def create_celery_app(settings: Settings | None = None, *, name: str = "dualwrite") -> Celery:
    """Build a Celery app for ``settings`` (read from the environment by default)."""
    settings = settings or Settings()
    app = Celery(name, broker=settings.resolved_broker_url())
    app.conf.update(
        broker_transport_options=broker_options(settings),
        broker_connection_timeout=settings.publish_timeout_seconds,
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A worker takes one batch at a time, so a crash loses no prefetched work.
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=settings.replication_queue,
        task_routes={"dualwrite.*": {"queue": settings.replication_queue}},
        worker_hijack_root_logger=False,
        beat_schedule={
            "relay-outbox": {"task": RELAY_TASK, "schedule": settings.relay_interval_seconds},
        },
    )
    return app
