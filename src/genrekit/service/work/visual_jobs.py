"""Waveform peaks and the spectrogram picture, computed after the answer.

``POST /classify`` answers from :meth:`genrekit.predict.Classifier.predict` on the stored
upload (a few excerpts decoded by seeking), which is much cheaper than decoding the whole
song. The display data needs the whole song, so :class:`VisualsJobs` computes it in the
background right after the answer, from a decode at :data:`VISUALS_SR`, on the worker pool
between requests, and stores it with the classification. ``GET
/classifications/{id}/visuals`` waits for a running job (up to :data:`VISUALS_WAIT_S`)
instead of answering 404 meanwhile.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from genrekit.service.work.jobs import BackgroundJobs, run_when_free
from genrekit.service.work.visuals import compute_visuals
from genrekit.store import queries

VISUALS_SR = 16000  # Hz: the picture spans 0-8 kHz (the model's own band), the waveform 1000 peaks
VISUALS_WAIT_S = 30.0  # longest a visuals request waits for the job computing them (seconds)


def visuals_of_file(path: Path, max_duration_s: float | None) -> dict[str, Any]:
    """Decode ``path`` (mono, :data:`VISUALS_SR`) and compute its display data."""
    from genrekit.audio import load_audio

    y, sr = load_audio(str(path), sr=VISUALS_SR, mono=True, max_duration_s=max_duration_s, allow_silent=True)
    return compute_visuals(np.asarray(y, dtype=np.float32), int(sr))


class VisualsJobs(BackgroundJobs):
    """The background visuals jobs of one app: at most one per classification."""

    def __init__(self) -> None:
        super().__init__("visuals", "the visuals of %s failed; the result stays without them")

    def start(self, state: Any, *, classification_id: str, path: Path) -> bool:
        """Compute and store the visuals of the audio at ``path`` (the job then owns the file).

        Returns False (and removes the file) when a job already runs for this classification.
        """
        return self.submit(classification_id, functools.partial(_compute, state, classification_id, path), owns=path)


async def _compute(state: Any, classification_id: str, path: Path) -> None:
    job = functools.partial(visuals_of_file, path, state.settings.max_duration_s)
    visuals = await run_when_free(state, job)
    await run_in_threadpool(_save, state, classification_id, visuals)


def _save(state: Any, classification_id: str, visuals: dict[str, Any]) -> None:
    with state.new_session() as session:
        queries.set_visuals(session, classification_id=classification_id, visuals=visuals)
