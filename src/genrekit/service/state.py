"""Everything one app instance holds between requests (``app.state.genrekit``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from genrekit.service.config import Settings
from genrekit.service.errors import ModelNotReadyError
from genrekit.service.metrics import ServiceMetrics
from genrekit.service.ratelimit import RateLimiter
from genrekit.service.work.jobs import JobPool
from genrekit.service.work.timeline import TimelineJobs
from genrekit.service.work.visual_jobs import VisualsJobs


class ServiceClassifier(Protocol):
    """What the service needs of a classifier (:class:`genrekit.predict.Classifier` is one).

    ``card`` is the bundle's :class:`~genrekit.bundle.card.ModelCard` (name, version,
    labels, sample_rate, window_s, metrics, limitations, tags); ``sample_rate`` (Hz) is the
    rate the audio is decoded at before ``predict``.
    """

    sample_rate: int

    @property
    def card(self) -> Any: ...

    def predict(
        self,
        source: np.ndarray,
        *,
        sr: int | None = None,
        name: str | None = None,
        max_duration_s: float | None = None,
        max_windows: int | None = None,
        top_k: int = ...,
    ) -> Any: ...

    def classify_windows(
        self, y: np.ndarray, *, sr: int, first_s: float = ..., last_s: float | None = ..., embed: bool = ...
    ) -> Any:
        """The windows of one part of a song (the background timeline's step)."""

    def summarize(self, windows: Any, *, n_samples: int, name: str, complete: bool = ...) -> Any:
        """The prediction of gathered windows (the whole song's answer once all are in)."""


@dataclass
class ServiceState:
    """Shared state of one app: settings, storage, model, worker pool, metrics."""

    settings: Settings
    metrics: ServiceMetrics
    rate_limiter: RateLimiter
    classifier: ServiceClassifier | None = None
    classifier_error: str | None = None
    engine: Engine | None = None
    session_factory: sessionmaker[Session] | None = None
    pool: JobPool | None = None
    inflight: dict[tuple[str, str, str, str], asyncio.Future[Any]] = field(default_factory=dict)
    timelines: TimelineJobs = field(default_factory=TimelineJobs)
    visuals: VisualsJobs = field(default_factory=VisualsJobs)
    model_watcher: Any = None  # genrekit.service.model_reload.ModelWatcher, set at startup

    def require_classifier(self) -> ServiceClassifier:
        """The loaded classifier; raises :class:`ModelNotReadyError` (503) when there is none."""
        if self.classifier is None:
            reason = self.classifier_error or "the model is still loading"
            raise ModelNotReadyError(f"no model is loaded: {reason}")
        return self.classifier

    def require_pool(self) -> JobPool:
        """The worker pool; raises :class:`ModelNotReadyError` (503) before startup."""
        if self.pool is None:
            raise ModelNotReadyError("the service is not started")
        return self.pool

    def new_session(self) -> Session:
        """A new database session; raises :class:`ModelNotReadyError` (503) before startup."""
        if self.session_factory is None:
            raise ModelNotReadyError("the database is not connected")
        return self.session_factory()


def model_identity(classifier: ServiceClassifier) -> tuple[str, str]:
    """``(name, version)`` of a classifier's model, as stored with each classification."""
    card = classifier.card
    if card is not None:
        return str(card.name), str(card.version)
    info = getattr(classifier, "model_info", None)
    if info is not None:
        return str(info.name), str(info.version)
    return "unnamed", ""
