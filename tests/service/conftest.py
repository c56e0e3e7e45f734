"""Fixtures of the service tests: a deterministic fake classifier, tiny generated audio,
and apps on a temporary SQLite database."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi import FastAPI
from fastapi.testclient import TestClient

from genrekit.audio import load_audio
from genrekit.bundle import ModelCard
from genrekit.predict import GenreScore, ModelInfo, Prediction, Segment, TagScore
from genrekit.service import Settings, create_app

FAKE_LABELS = ["blues", "classical", "rock"]
FAKE_SR = 16000  # Hz


class FakeClassifier:
    """Deterministic stand-in for :class:`genrekit.predict.Classifier`.

    The top genre is ``FAKE_LABELS[round(duration_s) % 3]`` with score 0.7; one segment per
    second, or (``spread_windows``, like a card's ``max_windows``, unless ``max_windows`` says
    otherwise) that many spread over the input, with ``complete`` false. Counts calls, records the most jobs seen running at once, and can sleep
    ``delay_s`` per call (to fill the worker pool).
    """

    sample_rate = FAKE_SR
    window_s = 1.0
    labels = FAKE_LABELS

    def __init__(self, delay_s: float = 0.0, version: str = "1.0", spread_windows: int = 0) -> None:
        self.delay_s = delay_s
        self.spread_windows = spread_windows
        self.n_calls = 0
        self.max_running = 0
        self._running = 0
        self._lock = threading.Lock()
        self.card = ModelCard(
            name="fake-genres",
            version=version,
            model_type="fake",
            labels=list(FAKE_LABELS),
            sample_rate=FAKE_SR,
            window_s=1.0,
            metrics={"accuracy": {"value": 0.5, "data": "none (fake)"}},
            limitations=["fake model for tests"],
            tags=["guitar", "calm"],
        )

    def predict(
        self,
        source: np.ndarray | str,
        *,
        sr: int | None = None,
        name: str | None = None,
        max_duration_s: float | None = None,
        max_windows: int | None = None,
        top_k: int = 10,
    ) -> Prediction:
        with self._counted():
            if isinstance(source, str):  # the stored upload, decoded as Classifier.predict would
                if sr is not None:
                    raise AssertionError("a file carries its own rate")
                y, sr = load_audio(source, sr=FAKE_SR, max_duration_s=max_duration_s, allow_silent=True)
            else:
                y = np.asarray(source, dtype=np.float32)
                if sr != FAKE_SR:
                    raise AssertionError(f"the service must decode at the model rate, got {sr}")
            duration_s = y.shape[-1] / sr
            top = FAKE_LABELS[int(round(duration_s)) % len(FAKE_LABELS)]
            n_segments = max(1, int(np.ceil(duration_s)))
            starts = range(n_segments)
            n_spread = self.spread_windows if max_windows is None else max_windows
            complete = not n_spread or n_spread >= n_segments
            if not complete:
                starts = range(0, n_segments, int(np.ceil(n_segments / n_spread)))
            segments = [Segment(float(i), float(min(i + 1, duration_s)), top, 0.7) for i in starts]
            return self._prediction(name or "<array>", duration_s, segments, top_k=top_k, complete=complete)

    def classify_windows(
        self, y: np.ndarray, *, sr: int, first_s: float = 0.0, last_s: float | None = None, embed: bool = False
    ) -> FakeWindows:
        """The one-second windows of ``y`` starting in ``[first_s, last_s)`` (a background step: counted)."""
        with self._counted():
            if sr != FAKE_SR:
                raise AssertionError(f"the service must decode at the model rate, got {sr}")
            duration_s = np.asarray(y).shape[-1] / sr
            last = duration_s if last_s is None else min(last_s, duration_s)
            return FakeWindows([(float(i), float(min(i + 1, duration_s))) for i in range(int(np.ceil(first_s)), int(np.ceil(last)))])

    def summarize(self, windows: FakeWindows, *, n_samples: int, name: str, complete: bool = True, top_k: int = 10) -> Prediction:
        """The prediction of the gathered windows: genres by the whole input's duration, as :meth:`predict`."""
        duration_s = n_samples / FAKE_SR
        top = FAKE_LABELS[int(round(duration_s)) % len(FAKE_LABELS)]
        segments = [Segment(start, end, top, 0.7) for start, end in windows.spans]
        return self._prediction(name, duration_s, segments, top_k=top_k, complete=complete)

    def _prediction(self, name: str, duration_s: float, segments: list[Segment], *, top_k: int, complete: bool) -> Prediction:
        top = FAKE_LABELS[int(round(duration_s)) % len(FAKE_LABELS)]
        genres = [GenreScore(top, 0.7)] + [GenreScore(g, 0.15) for g in FAKE_LABELS if g != top]
        return Prediction(
            name=name,
            duration_s=duration_s,
            model=ModelInfo(self.card.name, self.card.version),
            genres=genres,
            segments=segments,
            tags=[TagScore("guitar", 0.6)] if top_k else [],
            warnings=[],
            complete=complete,
        )

    @contextlib.contextmanager
    def _counted(self) -> Iterator[None]:
        """Count a call, track the most running at once, and sleep ``delay_s``."""
        with self._lock:
            self.n_calls += 1
            self._running += 1
            self.max_running = max(self.max_running, self._running)
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            yield
        finally:
            with self._lock:
                self._running -= 1


@dataclass
class FakeWindows:
    """The windows a :class:`FakeClassifier` step classified: their spans (seconds)."""

    spans: list[tuple[float, float]]

    @property
    def n_windows(self) -> int:
        return len(self.spans)

    def extend(self, other: FakeWindows) -> None:
        self.spans.extend(other.spans)


def make_wav(
    duration_s: float = 2.0, *, sr: int = 22050, freq_hz: float = 440.0, seed: int = 0, subtype: str = "PCM_16"
) -> bytes:
    """A tiny WAV file: a sine plus a little seeded noise (distinct seeds give distinct bytes)."""
    t = np.arange(int(round(duration_s * sr))) / sr
    rng = np.random.default_rng(seed)
    y = 0.5 * np.sin(2 * np.pi * freq_hz * t) + 0.01 * rng.standard_normal(t.size)
    buffer = io.BytesIO()
    sf.write(buffer, y.astype(np.float32), sr, format="WAV", subtype=subtype)
    return buffer.getvalue()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings with a fresh SQLite database under ``tmp_path``."""
    values: dict[str, Any] = {"data_dir": tmp_path, "database_url": f"sqlite:///{tmp_path / 'service.sqlite'}"}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def fake_classifier() -> FakeClassifier:
    return FakeClassifier()


@pytest.fixture
def app(tmp_path: Path, fake_classifier: FakeClassifier) -> FastAPI:
    return create_app(make_settings(tmp_path), classifier=fake_classifier)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def upload(client: TestClient, data: bytes, filename: str = "clip.wav", content_type: str = "audio/wav") -> Any:
    """POST one file to /api/v1/classify as multipart."""
    return client.post("/api/v1/classify", files={"file": (filename, data, content_type)})


def assert_problem(response: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    """Check an RFC 9457 problem response and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "instance"}
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["instance"] == response.request.url.path
    if slug is not None:
        assert body["type"] == f"/problems/{slug}"
    return body


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a throwaway PostgreSQL database (skips when no server can be started)."""
    from tests.service.postgres import PostgresUnavailable, running_postgres

    try:
        manager = running_postgres()
        url = manager.__enter__()
    except PostgresUnavailable as error:
        pytest.skip(str(error))
    try:
        yield url
    finally:
        manager.__exit__(None, None, None)


def wait_complete(client: TestClient, classification_id: str, timeout_s: float) -> dict:
    """The stored result once its background timeline completes (or as it is after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = client.get(f"/api/v1/classifications/{classification_id}").json()
        if body["complete"] or time.monotonic() > deadline:
            return body
        time.sleep(0.05)
