"""Run one function over many files in worker processes, surviving crashing workers.

A decoder that segfaults or a worker killed for memory breaks a whole
``ProcessPoolExecutor``. :func:`run_tasks` then starts a new pool, re-runs the tasks
that were in flight one at a time, and reports the one that crashes again through
``on_crash`` instead of stopping the job.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from genrekit.errors import InvalidParameterError

_THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _init_worker() -> None:
    """Give each worker one compute thread, so ``n_jobs`` workers use ``n_jobs`` cores."""
    for name in _THREAD_ENV_VARS:
        os.environ.setdefault(name, "1")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _mp_context() -> multiprocessing.context.BaseContext:
    # forkserver: workers start from a clean process, so a parent that already runs
    # OpenMP or torch threads cannot deadlock them (plain fork can).
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def check_n_jobs(n_jobs: int) -> int:
    """Validate a worker count: an int >= 1, or -1 for one per CPU core."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or (n_jobs < 1 and n_jobs != -1):
        raise InvalidParameterError(f"n_jobs must be an integer >= 1, or -1 for all cores; got {n_jobs!r}")
    if n_jobs == -1:
        return os.cpu_count() or 1
    return n_jobs


def run_tasks(
    func: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    *,
    n_jobs: int,
    on_result: Callable[[int, Any], None],
    on_crash: Callable[[int], None],
) -> None:
    """Call ``func(*tasks[i])`` for every task, in ``n_jobs`` processes.

    Parameters
    ----------
    func : callable
        A top-level (picklable) function. It should catch its own ``Exception``\\ s and
        return them as values; anything it raises (``KeyboardInterrupt`` included) stops
        the run and is re-raised here, after the tasks in flight have finished.
    tasks : sequence of tuple
        Positional arguments, one tuple per call.
    n_jobs : int
        Worker processes; 1 runs everything in this process (no crash protection).
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
    pending: deque[int] = deque(range(len(tasks)))
    suspects: deque[int] = deque()
    context = _mp_context()
    while pending or suspects:
        n_workers = min(n_jobs, len(pending) + len(suspects))
        executor = ProcessPoolExecutor(max_workers=n_workers, mp_context=context, initializer=_init_worker)
        in_flight: dict[Future, int] = {}
        isolated = False
        broken = False
        try:
            while (pending or suspects or in_flight) and not broken:
                if suspects:
                    if not in_flight:
                        index = suspects.popleft()
                        in_flight[executor.submit(func, *tasks[index])] = index
                        isolated = True
                else:
                    isolated = False
                    while pending and len(in_flight) < n_workers:
                        index = pending.popleft()
                        in_flight[executor.submit(func, *tasks[index])] = index
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    error = future.exception()
                    if isinstance(error, BrokenProcessPool):
                        broken = True
                        continue
                    if error is not None:
                        raise error
                    on_result(in_flight.pop(future), future.result())
            if broken:
                crashed = []
                for future, index in list(in_flight.items()):
                    error = future.exception()
                    if error is None:
                        on_result(index, future.result())
                    elif isinstance(error, BrokenProcessPool):
                        crashed.append(index)
                    else:
                        raise error
                in_flight.clear()
                if isolated:
                    for index in crashed:
                        on_crash(index)
                else:
                    suspects.extend(crashed)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
