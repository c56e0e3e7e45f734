"""The service's jobs: a bounded worker pool, and the background jobs that use it between requests.

:class:`JobPool` runs decode + inference off the event loop. Jobs run in a :class:`~concurrent.futures.ThreadPoolExecutor` of ``n_workers`` threads
(torch releases the GIL during inference). At most ``max_queue`` jobs may wait for a
worker; one more is refused at once with :class:`QueueFullError` (HTTP 503). A caller
waits at most ``timeout_s``; a job that has not started by then is dropped, one that is
running cannot be interrupted and keeps its worker until it ends (its result is discarded).

:class:`BackgroundJobs` runs work that follows an answer (the whole-song timeline, the
visuals) as asyncio tasks, at most one per classification; each step goes to the pool
through :func:`run_when_free`, so requests go first.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from genrekit.errors import InvalidParameterError
from genrekit.service.errors import JobTimeoutError, QueueFullError

T = TypeVar("T")

logger = logging.getLogger("genrekit.service")

BUSY_RETRY_S = 1.0  # wait before retrying a background step the full worker pool refused (seconds)
IDLE_POLL_S = 0.05  # how often a background step looks for an idle pool (seconds)


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


async def run_when_free(state: Any, job: Callable[[], T]) -> T:
    """Run ``job`` on the worker pool (``state.require_pool()``) once no other job runs or
    waits there (requests go first).

    A request that arrives meanwhile shares the CPU with one background step at most.
    """
    pool = state.require_pool()
    while True:
        while pool.n_running or pool.n_waiting:
            await asyncio.sleep(IDLE_POLL_S)
        try:
            return await pool.run(job)
        except QueueFullError:
            await asyncio.sleep(BUSY_RETRY_S)


class BackgroundJobs:
    """Background jobs of one app, at most one per key (a classification id).

    Parameters
    ----------
    kind : str
        What the jobs make, for the log (``"timeline"``).
    failure : str
        Log message of a job that failed, with ``%s`` for its key; a failure is logged and
        the job ends (what it stored so far stays).
    """

    def __init__(self, kind: str, failure: str) -> None:
        self.kind = kind
        self.failure = failure
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def running(self, key: str) -> bool:
        """Whether a job for ``key`` runs now."""
        return key in self._tasks

    def submit(self, key: str, work: Callable[[], Awaitable[None]], *, owns: Path | None = None) -> bool:
        """Run ``work()`` in the background as the job of ``key``; the job then owns the file
        ``owns`` (removed when it ends).

        Returns False (and removes ``owns``) when a job for ``key`` already runs.
        """
        if self.running(key):
            if owns is not None:
                owns.unlink(missing_ok=True)
            return False
        self._tasks[key] = asyncio.get_running_loop().create_task(self._run(key, work, owns))
        return True

    async def wait(self, key: str, timeout_s: float) -> None:
        """Wait until the job of ``key`` (if any) is done, at most ``timeout_s`` seconds."""
        task = self._tasks.get(key)
        if task is not None:
            await asyncio.wait({task}, timeout=timeout_s)

    async def shutdown(self, wait_s: float = 0.0) -> None:
        """Give the running jobs ``wait_s`` seconds to finish, cancel the rest and wait for
        them to let go of their files."""
        if self._tasks and wait_s > 0:
            logger.info("waiting up to %.0f s for %d background %s(s)", wait_s, len(self._tasks), self.kind)
            await asyncio.wait(set(self._tasks.values()), timeout=wait_s)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, key: str, work: Callable[[], Awaitable[None]], owns: Path | None) -> None:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception(self.failure, key)
        finally:
            self._tasks.pop(key, None)
            if owns is not None:
                owns.unlink(missing_ok=True)
