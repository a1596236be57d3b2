"""The Celery application: ``celery -A workers.app worker``.

Celery needs a module-level app; it is configured from the environment (see
``infrastructure.settings.Settings``) when this module is imported by the worker.
"""

from __future__ import annotations

from infrastructure.logging_setup import configure_logging
from infrastructure.messaging.celery_app import create_celery_app
from infrastructure.settings import Settings
from workers.tasks import register_tasks

settings = Settings()
configure_logging(settings.log_level)
app = create_celery_app(settings)
register_tasks(app, settings)
