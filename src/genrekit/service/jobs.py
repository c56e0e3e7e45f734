"""Bounded worker pool running decode + inference off the event loop.

Jobs run in a :class:`~concurrent.futures.ThreadPoolExecutor` of ``n_workers`` threads
(torch releases the GIL during inference). At most ``max_queue`` jobs may wait for a
worker; one more is refused at once with :class:`QueueFullError` (HTTP 503). A caller
waits at most ``timeout_s``; a job that has not started by then is dropped, one that is
running cannot be interrupted and keeps its worker until it ends (its result is discarded).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from genrekit.errors import InvalidParameterError
from genrekit.service.errors import JobTimeoutError, QueueFullError

T = TypeVar("T")


class _Cancelled(Exception):
    """The job was dropped before it started."""


class JobPool:
    """A fixed number of worker threads with a bounded waiting line.

    Parameters
    ----------
    n_workers : int >= 1
        Jobs running at once.
    max_queue : int >= 0
        Jobs allowed to wait for a worker.
    timeout_s : float > 0
        Longest a caller waits for its job (waiting and running), in seconds.
    on_change : callable or None
        Called as ``on_change(n_waiting, n_running)`` whenever the counts change (metrics).
    """

    def __init__(
        self,
        n_workers: int,
        max_queue: int,
        timeout_s: float,
        on_change: Callable[[int, int], None] | None = None,
    ) -> None:
        if n_workers < 1 or max_queue < 0 or timeout_s <= 0:
            raise InvalidParameterError(
                f"need n_workers >= 1, max_queue >= 0, timeout_s > 0; got {n_workers}, {max_queue}, {timeout_s}"
            )
        self.n_workers = n_workers
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self._on_change = on_change
        self._executor = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="genrekit-job")
        self._lock = threading.Lock()
        self._n_waiting = 0
        self._n_running = 0

    @property
    def n_waiting(self) -> int:
        """Jobs submitted and not started."""
        return self._n_waiting

    @property
    def n_running(self) -> int:
        """Jobs running now."""
        return self._n_running

    def _notify(self) -> None:
        if self._on_change is not None:
            self._on_change(self._n_waiting, self._n_running)

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on a worker and return its result.

        Raises
        ------
        QueueFullError
            ``max_queue`` jobs are already waiting (and every worker is busy).
        JobTimeoutError
            The result did not come within ``timeout_s``.
        """
        with self._lock:
            free_workers = self.n_workers - self._n_running - self._n_waiting
            if free_workers <= 0 and self._n_waiting >= self.max_queue:
                raise QueueFullError(
                    f"{self._n_waiting} jobs are already waiting for {self.n_workers} workers; retry later",
                    retry_after_s=5,
                )
            self._n_waiting += 1
            self._notify()
        cancelled = threading.Event()
        started = threading.Event()

        def job() -> T:
            with self._lock:
                self._n_waiting -= 1
                if cancelled.is_set():
                    self._notify()
                    raise _Cancelled()
                started.set()
                self._n_running += 1
                self._notify()
            try:
                return fn()
            finally:
                with self._lock:
                    self._n_running -= 1
                    self._notify()

        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, job)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=self.timeout_s)
        except TimeoutError as error:
            cancelled.set()
            future.add_done_callback(_consume_result)
            state = "running" if started.is_set() else "waiting"
            raise JobTimeoutError(f"the job took longer than {self.timeout_s:g} s (still {state})") from error
        except asyncio.CancelledError:
            cancelled.set()
            future.add_done_callback(_consume_result)
            raise

    def shutdown(self) -> None:
        """Stop accepting jobs; queued ones are dropped, running ones finish in the background."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _consume_result(future: asyncio.Future[object]) -> None:
    """Retrieve an abandoned job's outcome so asyncio does not log it as never retrieved."""
    if not future.cancelled():
        future.exception()
