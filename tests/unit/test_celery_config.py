"""The Celery app and the replicate task are configured for at-least-once delivery.

Reads the configuration of the app the worker builds; no broker is contacted, except an
unreachable one to show that publishing fails fast instead of retrying.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from celery import Celery

from infrastructure.messaging.celery_app import REPLICATE_TASK, create_celery_app
from infrastructure.messaging.celery_publisher import CeleryEventPublisher
from infrastructure.settings import Settings
from workers.tasks import register_tasks

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"  # port 1: connection refused at once


def built_app(**overrides: Any) -> tuple[Celery, Settings]:
    settings = Settings(broker_url=UNREACHABLE_BROKER, **overrides)
    app = create_celery_app(settings)
    register_tasks(app, settings)
    return app, settings


def test_messages_are_acknowledged_after_the_work_and_requeued_on_worker_loss() -> None:
    app, _ = built_app()
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]


@pytest.mark.parametrize("backoff_max", [1, 60, 3600, 7200])
def test_visibility_timeout_outlasts_the_longest_retry_delay(backoff_max: int) -> None:
    app, settings = built_app(retry_backoff_max_seconds=backoff_max)
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] > settings.retry_backoff_max_seconds
    # Publishing is bounded: connect within the publish timeout, never retried by kombu.
    assert options["socket_connect_timeout"] == settings.publish_timeout_seconds
    assert options["max_retries"] == 0


def test_replicate_task_retries_with_backoff_from_settings() -> None:
    app, settings = built_app(retry_max=5, retry_backoff_seconds=3, retry_backoff_max_seconds=40)
    task: Any = app.tasks[REPLICATE_TASK]  # autoretry options are set on the task class
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
    assert task.max_retries == settings.retry_max == 5
    assert task.retry_backoff == 3
    assert task.retry_backoff_max == 40
    assert task.retry_jitter is True
    assert Exception in task.autoretry_for
    routed = app.amqp.router.route({}, REPLICATE_TASK)
    assert routed["queue"].name == settings.replication_queue


def test_publishing_to_an_unreachable_broker_fails_fast() -> None:
    app, settings = built_app(publish_timeout_seconds=1.0)
    publisher = CeleryEventPublisher(app, settings.replication_queue)
    started = time.perf_counter()
    with pytest.raises(Exception):  # noqa: B017 - kombu's error class depends on the transport
        publisher.publish([1, 2, 3])
    assert time.perf_counter() - started < 3.0
