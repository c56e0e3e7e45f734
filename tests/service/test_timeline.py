"""Background timeline steps yield to requests: :func:`genrekit.service.work.jobs.run_when_free`."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from genrekit.service.work.jobs import JobPool, run_when_free


def test_a_background_step_waits_until_the_pool_is_idle() -> None:
    pool = JobPool(n_workers=2, max_queue=4, timeout_s=30.0)
    state = SimpleNamespace(require_pool=lambda: pool)
    events: list[tuple[str, float]] = []

    def request() -> None:
        events.append(("request starts", time.monotonic()))
        time.sleep(0.3)
        events.append(("request ends", time.monotonic()))

    def background_step() -> str:
        events.append(("step starts", time.monotonic()))
        return "done"

    async def scenario() -> str:
        foreground = asyncio.ensure_future(pool.run(request))
        await asyncio.sleep(0.05)  # the request is running: a worker is still free
        result = await run_when_free(state, background_step)
        await foreground
        return result

    try:
        assert asyncio.run(scenario()) == "done"
    finally:
        pool.shutdown()
    order = [name for name, _ in events]
    assert order == ["request starts", "request ends", "step starts"], order
