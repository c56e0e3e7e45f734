"""The crash-surviving pool: a dying worker fails only its own task, order and laziness kept,
a task's own error stops the run, and ``run_tasks`` in and out of process."""

from __future__ import annotations

import itertools
from concurrent.futures.process import BrokenProcessPool

import pytest

from genrekit.errors import InvalidParameterError
from genrekit.pool import CRASHED, WorkerPool, check_n_jobs, run_tasks
from tests.pool.tasks import fail_on, square_or_die, thread_count_env


def test_check_n_jobs() -> None:
    assert check_n_jobs(3) == 3 and check_n_jobs(-1) >= 1
    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(InvalidParameterError):
            check_n_jobs(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("ordered", [True, False])
def test_a_dying_worker_fails_only_its_task_and_the_run_goes_on(ordered: bool) -> None:
    tasks = [(x, 3, 0.05) for x in range(8)]
    with WorkerPool(2, start_method="spawn") as pool:
        got = list(pool.map(square_or_die, tasks, in_flight=4, ordered=ordered))
    values = {index: value for index, _, value in got}
    assert sorted(values) == list(range(8))
    assert values[3] is CRASHED
    assert all(values[x] == x * x for x in range(8) if x != 3)
    assert all(task == tasks[index] for index, task, _ in got)
    if ordered:
        assert [index for index, _, _ in got] == list(range(8))


def test_tasks_are_pulled_lazily() -> None:
    pulled = []

    def tasks():  # noqa: ANN202
        for x in itertools.count():
            pulled.append(x)
            yield (x,)

    with WorkerPool(2, processes=False) as pool:
        for index, _, value in pool.map(abs, tasks(), in_flight=3):
            assert value == index
            if index == 5:
                break
    assert len(pulled) <= 6 + 3


def test_a_tasks_own_error_stops_the_run() -> None:
    with WorkerPool(2) as pool, pytest.raises(ValueError, match="bad task 2"):
        list(pool.map(fail_on, [(x, 2) for x in range(5)]))


def test_run_alone_and_a_broken_pool_replaced_on_submit() -> None:
    with WorkerPool(1, start_method="spawn") as pool:
        assert pool.run_alone(square_or_die, 4, 4) is CRASHED
        assert pool.run_alone(square_or_die, 5, 4) == 25
        with pytest.raises(BrokenProcessPool):
            pool.submit(square_or_die, 4, 4).result()
        assert pool.submit(square_or_die, 6).result() == 36


def test_use_outside_a_with_block_is_an_error() -> None:
    with pytest.raises(Exception, match="context manager"):
        WorkerPool(1).submit(abs, 1)
    with pytest.raises(InvalidParameterError):
        WorkerPool(0)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_run_tasks_reports_results_and_crashes(n_jobs: int) -> None:
    results: dict[int, int] = {}
    crashed: list[int] = []
    crash_on = 2 if n_jobs > 1 else None  # in this process a crash would be this test's
    run_tasks(square_or_die, [(x, crash_on) for x in range(5)], n_jobs=n_jobs,
              on_result=results.__setitem__, on_crash=crashed.append)
    assert crashed == ([2] if n_jobs > 1 else [])
    assert results == {x: x * x for x in range(5) if x not in crashed}


def test_run_tasks_workers_have_a_thread_count_set() -> None:
    seen: list[str | None] = []
    run_tasks(thread_count_env, [(), ()], n_jobs=2, on_result=lambda _, value: seen.append(value), on_crash=print)
    assert len(seen) == 2 and None not in seen
