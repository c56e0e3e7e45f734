"""The bounded worker pool and the rate limiter."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from genrekit.errors import InvalidParameterError
from genrekit.service.errors import JobTimeoutError, QueueFullError, RateLimitedError
from genrekit.service.ratelimit import RateLimiter
from genrekit.service.work.jobs import JobPool


def test_pool_runs_at_most_n_workers_and_refuses_past_the_queue() -> None:
    changes: list[tuple[int, int]] = []
    pool = JobPool(2, 1, 5.0, on_change=lambda w, r: changes.append((w, r)))
    release = threading.Event()
    running = []
    lock = threading.Lock()

    def job(i: int) -> int:
        with lock:
            running.append(i)
        release.wait(5)
        return i * 10

    async def scenario() -> list[object]:
        tasks = [asyncio.create_task(pool.run(lambda i=i: job(i))) for i in range(3)]
        while len(running) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert (pool.n_running, pool.n_waiting) == (2, 1)
        with pytest.raises(QueueFullError):
            await pool.run(lambda: job(99))
        release.set()
        return await asyncio.gather(*tasks)

    assert asyncio.run(scenario()) == [0, 10, 20]
    assert 99 not in running
    assert max(r for _, r in changes) == 2 and changes[-1] == (0, 0)
    pool.shutdown()


def test_pool_times_out_and_drops_jobs_that_never_started() -> None:
    pool = JobPool(1, 5, 0.2)
    ran: list[str] = []

    def slow() -> None:
        ran.append("slow")
        time.sleep(0.5)

    async def scenario() -> None:
        first = asyncio.create_task(pool.run(slow))
        await asyncio.sleep(0.05)
        with pytest.raises(JobTimeoutError, match="waiting"):
            await pool.run(lambda: ran.append("queued"))
        with pytest.raises(JobTimeoutError, match="running"):
            await first

    asyncio.run(scenario())
    time.sleep(0.5)
    assert ran == ["slow"]  # the queued job was dropped when its caller gave up
    assert (pool.n_running, pool.n_waiting) == (0, 0)
    pool.shutdown()


def test_pool_passes_exceptions_through() -> None:
    pool = JobPool(1, 0, 1.0)

    def boom() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        asyncio.run(pool.run(boom))
    pool.shutdown()
    with pytest.raises(InvalidParameterError):
        JobPool(0, 1, 1.0)


def test_rate_limiter_counts_per_key_per_window() -> None:
    now = [100.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    limiter.hit("a")
    limiter.hit("a")
    limiter.hit("b")
    with pytest.raises(RateLimitedError) as info:
        limiter.hit("a")
    assert info.value.retry_after_s == 60
    now[0] += 30
    with pytest.raises(RateLimitedError) as info:
        limiter.hit("a")
    assert info.value.retry_after_s == 30
    now[0] += 30
    limiter.hit("a")
    RateLimiter(0).hit("anyone")
