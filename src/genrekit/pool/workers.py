"""Worker processes that survive a worker's death: every crash-surviving batch of work runs here.

A decoder that segfaults, or a worker killed for memory, breaks a whole
``ProcessPoolExecutor``: every task in flight fails with ``BrokenProcessPool``.
:meth:`WorkerPool.map` then starts new worker processes and runs the tasks that were in
flight again one at a time, so the one that kills its worker again is its own
(:data:`CRASHED`) and every other task gets its value; the run goes on. Tasks that had
finished before the crash keep their values.

Users: dataset feature extraction and checks (:func:`run_tasks`), and the batch engine
behind ``genrekit classify`` and ``genrekit scan`` (:class:`WorkerPool`, a model per worker).
This room imports nothing of genrekit but its errors.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any

from genrekit.errors import GenrekitError, InvalidParameterError

_THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class Crashed:
    """The type of :data:`CRASHED`."""

    def __repr__(self) -> str:
        return "CRASHED"


CRASHED = Crashed()
"""What :class:`WorkerPool` gives for a task whose worker process died while it ran alone."""


def check_n_jobs(n_jobs: int) -> int:
    """Validate a worker count: an int >= 1, or -1 for one per CPU core."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or (n_jobs < 1 and n_jobs != -1):
        raise InvalidParameterError(f"n_jobs must be an integer >= 1, or -1 for all cores; got {n_jobs!r}")
    if n_jobs == -1:
        return os.cpu_count() or 1
    return n_jobs


def one_thread_per_worker() -> None:
    """Worker initializer: one compute thread each, so ``n`` workers use ``n`` cores."""
    for name in _THREAD_ENV_VARS:
        os.environ.setdefault(name, "1")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _mp_context(start_method: str | None) -> multiprocessing.context.BaseContext:
    if start_method is not None:
        return multiprocessing.get_context(start_method)
    # forkserver: workers start from a clean process, so a parent that already runs
    # OpenMP or torch threads cannot deadlock them (plain fork can).
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


class WorkerPool:
    """``workers`` worker processes that outlive a crashing task; use as a context manager.

    Parameters
    ----------
    workers : int >= 1
        Worker processes (threads where ``processes`` is False).
    initializer : callable, optional
        Run once in each new worker (e.g. loading a model); ``initargs`` are its arguments.
    start_method : str or None
        How processes start (``"spawn"``, ``"forkserver"``); ``None``: forkserver where
        available, else spawn.
    processes : bool
        False: ``workers`` threads of this process instead (no crash to survive; for work
        that releases the GIL).
    """

    def __init__(
        self,
        workers: int,
        *,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
        start_method: str | None = None,
        processes: bool = True,
    ) -> None:
        if int(workers) < 1:
            raise InvalidParameterError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)
        self.initializer = initializer
        self.initargs = initargs
        self.start_method = start_method
        self.processes = processes
        self._executor: Executor | None = None

    def _new_executor(self) -> Executor:
        if not self.processes:
            return ThreadPoolExecutor(self.workers, thread_name_prefix="genrekit-worker",
                                      initializer=self.initializer, initargs=self.initargs)
        return ProcessPoolExecutor(self.workers, mp_context=_mp_context(self.start_method),
                                   initializer=self.initializer, initargs=self.initargs)

    def __enter__(self) -> WorkerPool:
        self._executor = self._new_executor()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        """Wait for the tasks running (queued ones are cancelled), then stop the workers."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def restart(self) -> None:
        """Replace the workers (after one died, the old pool takes no more tasks)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new_executor()

    def _live(self) -> Executor:
        if self._executor is None:
            raise GenrekitError("use WorkerPool as a context manager")
        return self._executor

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` in a worker; a pool broken by an earlier crash is replaced first."""
        try:
            return self._live().submit(fn, *args)
        except BrokenProcessPool:
            self.restart()
            return self._live().submit(fn, *args)

    def run_alone(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` with nothing else in flight, so a crash is this task's: then :data:`CRASHED`."""
        try:
            return self.submit(fn, *args).result()
        except BrokenProcessPool:
            self.restart()
            return CRASHED

    def map(
        self,
        fn: Callable[..., Any],
        tasks: Iterable[tuple[Any, ...]],
        *,
        in_flight: int | None = None,
        ordered: bool = True,
    ) -> Iterator[tuple[int, tuple[Any, ...], Any]]:
        """Run ``fn(*task)`` for every task, yielding ``(index, task, value)``.

        ``tasks`` is pulled lazily: at most ``in_flight`` tasks (default: ``workers``) are
        queued, running or finished but not yet yielded, so memory stays bounded however
        many there are. ``ordered``: values come in task order, else as they finish. A
        task whose worker died even when it ran alone gives :data:`CRASHED`. An exception
        ``fn`` raises (``KeyboardInterrupt`` included) stops the run and is raised here;
        leaving the ``with`` block then waits for the tasks in flight.
        """
        limit = max(1, int(in_flight if in_flight is not None else self.workers))
        queue: Iterator[tuple[int, tuple[Any, ...]]] = iter(enumerate(tasks))
        running: dict[Future[Any], tuple[int, tuple[Any, ...]]] = {}
        while True:
            broken = False
            while len(running) < limit and (item := next(queue, None)) is not None:
                try:
                    running[self._live().submit(fn, *item[1])] = item
                except BrokenProcessPool:  # a worker died since the last look: this task was not sent
                    queue = itertools.chain([item], queue)
                    broken = True
                    break
            if broken:
                yield from self._recover(fn, running)
                continue
            if not running:
                return
            if ordered:
                done = [next(iter(running))]
                wait(done)
            else:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                done = [future for future in running if future in finished]
            if any(isinstance(future.exception(), BrokenProcessPool) for future in done):
                yield from self._recover(fn, running)
                continue
            for future in done:
                index, task = running.pop(future)
                yield index, task, future.result()

    def _recover(
        self, fn: Callable[..., Any], running: dict[Future[Any], tuple[int, tuple[Any, ...]]]
    ) -> Iterator[tuple[int, tuple[Any, ...], Any]]:
        """After a worker died: the finished tasks' values, and the others run again one at a time."""
        entries = [(future, index, task, future.exception()) for future, (index, task) in running.items()]
        running.clear()
        self.restart()
        for future, index, task, error in entries:
            if error is None:
                yield index, task, future.result()
            elif isinstance(error, BrokenProcessPool):
                yield index, task, self.run_alone(fn, *task)
            else:
                raise error


def run_tasks(
    func: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    *,
    n_jobs: int,
    on_result: Callable[[int, Any], None],
    on_crash: Callable[[int], None],
) -> None:
    """Call ``func(*tasks[i])`` for every task, in ``n_jobs`` processes of one compute thread each.

    Parameters
    ----------
    func : callable
        A top-level (picklable) function. It should catch its own ``Exception``\\ s and
        return them as values; anything it raises (``KeyboardInterrupt`` included) stops
        the run and is re-raised here, after the tasks in flight have finished.
    tasks : sequence of tuple
        Positional arguments, one tuple per call.
    n_jobs : int
        Worker processes (-1: one per core); 1 runs everything in this process (no crash
        protection).
    on_result : callable
        ``on_result(i, value)`` in this process as each call returns, in completion order.
    on_crash : callable
        ``on_crash(i)`` for a task whose worker died (twice: once among others, once
        alone).
    """
    n_jobs = check_n_jobs(n_jobs)
    if n_jobs == 1:
        for index, args in enumerate(tasks):
            on_result(index, func(*args))
        return
    if not tasks:
        return
    with WorkerPool(min(n_jobs, len(tasks)), initializer=one_thread_per_worker) as pool:
        for index, _, value in pool.map(func, tasks, ordered=False):
            if value is CRASHED:
                on_crash(index)
            else:
                on_result(index, value)
