"""Top-level task functions for the pool tests (workers import them by name)."""

from __future__ import annotations

import os
import signal
import time


def square_or_die(x: int, crash_on: int | None = None, delay_s: float = 0.0) -> int:
    """``x * x`` after ``delay_s`` seconds; the worker process kills itself on ``x == crash_on``."""
    time.sleep(delay_s)
    if x == crash_on:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def fail_on(x: int, bad: int) -> int:
    """``x`` back, or a ``ValueError`` for ``bad`` (a task's own error, not a crash)."""
    if x == bad:
        raise ValueError(f"bad task {x}")
    return x


def thread_count_env() -> str | None:
    """``OMP_NUM_THREADS`` as a worker sees it (set by the pool unless inherited)."""
    return os.environ.get("OMP_NUM_THREADS")
