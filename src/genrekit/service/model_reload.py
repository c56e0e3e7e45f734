"""Hot reload: the service follows the model registry's champion without a restart.

:class:`ModelWatcher` polls the registry every ``model_poll_s`` seconds (and is poked at once
by ``POST /models/.../promote`` and ``/models/rollback``). When the champion changes it loads
the new bundle on a worker thread while the old model keeps answering, then swaps
``state.classifier`` in one assignment: a request that already took the old model finishes
with it, and every stored result names the model version that answered it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from genrekit.errors import GenrekitError
from genrekit.lifecycle.versions import ModelRegistry
from genrekit.service.state import ServiceClassifier, ServiceState

logger = logging.getLogger("genrekit.service")


class ModelWatcher:
    """Keeps ``state.classifier`` on the registry's champion.

    Parameters
    ----------
    state : ServiceState
    registry : ModelRegistry
    loader : callable
        ``loader(bundle_dir) -> classifier`` (runs on a worker thread).
    poll_s : float
        Seconds between polls; 0 polls never (reloads happen only when poked).
    """

    def __init__(
        self, state: ServiceState, registry: ModelRegistry, loader: Callable[[Path], ServiceClassifier], poll_s: float
    ) -> None:
        self.state = state
        self.registry = registry
        self.loader = loader
        self.poll_s = poll_s
        self.serving: str | None = None
        self._failed: str | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> bool:
        """Load the champion if it changed; returns whether the served model changed."""
        async with self._lock:
            try:
                champion = await run_in_threadpool(self.registry.champion)
            except GenrekitError as error:
                logger.error("model registry unreadable, keeping the current model: %s", error)
                return False
            if champion is None or champion.id in (self.serving, self._failed):
                return False
            try:
                classifier = await run_in_threadpool(self.loader, champion.path)
            except (GenrekitError, OSError) as error:
                self._failed = champion.id
                logger.error("could not load model version %s, keeping the current model: %s", champion.id, error)
                return False
            self.state.classifier = classifier
            self.state.classifier_error = None
            self.serving, self._failed = champion.id, None
            logger.info("now serving model version %s", champion.id)
            return True

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            await self.check()

    def start(self) -> None:
        """Start polling (when ``poll_s`` > 0)."""
        if self.poll_s > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
