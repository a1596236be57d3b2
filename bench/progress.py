"""Progress lines on stderr with the elapsed time, so a long run shows where it is."""

from __future__ import annotations

import sys
import time

_started = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _started:6.1f}s] {message}", file=sys.stderr, flush=True)


def elapsed() -> float:
    return time.monotonic() - _started
