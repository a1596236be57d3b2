"""Logging configuration for the service's processes."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s - %(processName)s - %(name)s - %(levelname)s - %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Human-readable logs on stderr (the seed's format, plus the process name)."""
    logging.basicConfig(level=level.upper(), format=FORMAT)
    # Library chatter that says nothing an operator needs at INFO.
    for noisy in ("alembic", "pymongo", "kombu.connection"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
