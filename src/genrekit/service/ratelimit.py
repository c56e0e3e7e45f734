"""In-memory per-client rate limit (fixed one-minute windows).

Per process: with several server processes, each counts on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from genrekit.service.errors import RateLimitedError

WINDOW_S = 60.0  # seconds per counting window
_MAX_CLIENTS = 100_000  # windows kept before stale ones are swept


class RateLimiter:
    """Allow ``per_minute`` hits per key in each 60 s window; 0 allows everything.

    Parameters
    ----------
    per_minute : int >= 0
    clock : callable
        Monotonic clock in seconds (injectable for tests).
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, *, per_minute: int | None = None) -> None:
        """Count one request of ``key``; raises :class:`RateLimitedError` past the limit.

        ``per_minute`` overrides the limiter's own limit for this key (an API key's limit);
        0 allows everything.
        """
        limit = self.per_minute if per_minute is None else per_minute
        if limit <= 0:
            return
        now = self._clock()
        with self._lock:
            if len(self._windows) > _MAX_CLIENTS:
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < WINDOW_S}
            start, count = self._windows.get(key, (now, 0))
            if now - start >= WINDOW_S:
                start, count = now, 0
            if count >= limit:
                retry_after = max(1, math.ceil(WINDOW_S - (now - start)))
                raise RateLimitedError(
                    f"more than {limit} classification requests per minute from {key}; "
                    f"retry in {retry_after} s",
                    retry_after_s=retry_after,
                )
            self._windows[key] = (start, count + 1)
