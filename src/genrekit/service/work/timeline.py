"""The full timeline behind the quick answer: every window, classified in the background.

``POST /classify`` answers from a few windows spread over the song (the genre and a gapped
timeline). When that timeline leaves gaps, :meth:`TimelineJobs.start` takes over the spooled
upload and classifies the whole song in steps of ``STEP_WINDOWS`` windows on the worker
pool (:meth:`genrekit.predict.Classifier.classify_windows`), each step only once the pool is
idle (requests go first). After each step the stored result gets the windows classified so
far (from the start of the song) followed by the spread windows not yet reached, so a client
polling ``GET /classifications/{id}`` watches the timeline fill in; meanwhile the genres stay
those of the quick answer. The last step replaces the answer with the whole song's
(:meth:`~genrekit.predict.Classifier.summarize` of every window: the same aggregation,
checks and uncertainty as the quick answer, over all windows), its tags, window shares and
embedding, and sets ``complete``: history, catalog, similar tracks and exports then show it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from genrekit.service.work.jobs import BackgroundJobs, run_when_free
from genrekit.store import queries

STEP_WINDOWS = 10  # windows classified per background step (one pool job each)
CONTIGUOUS_TOLERANCE_S = 0.05  # gap between windows still counted as covered (seconds)


def covered_from_start(segments: Sequence[dict[str, Any]]) -> float:
    """Seconds from 0 covered by back-to-back segments (0 when the first starts later)."""
    covered = 0.0
    for segment in segments:
        if float(segment["start_s"]) > covered + CONTIGUOUS_TOLERANCE_S:
            break
        covered = max(covered, float(segment["end_s"]))
    return covered


def merged_segments(full: Sequence[dict[str, Any]], spread: Sequence[dict[str, Any]], covered_s: float) -> list[dict[str, Any]]:
    """The windows classified so far, then the spread windows that start after them."""
    return [*full, *(s for s in spread if float(s["start_s"]) >= covered_s - CONTIGUOUS_TOLERANCE_S)]


class TimelineJobs(BackgroundJobs):
    """The background timeline jobs of one app: at most one per classification.

    ``progress[id]`` is the seconds covered so far by a running job.
    """

    def __init__(self) -> None:
        super().__init__("timeline", "the full timeline of %s failed; the quick answer stays")
        self.progress: dict[str, float] = {}

    def start(self, state: Any, *, classification_id: str, path: Path, name: str) -> bool:
        """Classify every window of the audio at ``path`` in the background (the job then owns the file).

        Returns False (and removes the file) when a job already runs for this classification.
        """
        work = functools.partial(self._classify_all, state, classification_id, path, name)
        return self.submit(classification_id, work, owns=path)

    async def _classify_all(self, state: Any, classification_id: str, path: Path, name: str) -> None:
        try:
            await self._classify_steps(state, classification_id, path, name)
        finally:
            self.progress.pop(classification_id, None)

    async def _classify_steps(self, state: Any, classification_id: str, path: Path, name: str) -> None:
        classifier = state.require_classifier()
        sr = int(classifier.sample_rate)
        y = await run_when_free(state, functools.partial(_decode, path, sr, state.settings.max_duration_s))
        step = max(1, int(round(float(getattr(classifier, "window_s", 3.0)) * sr))) * STEP_WINDOWS
        spec = getattr(classifier, "embedding", None)
        space = spec.space if spec is not None else None
        gathered: Any = None
        for first in range(0, len(y), step):
            last = min(len(y), first + step)
            job = functools.partial(
                classifier.classify_windows, y, sr=sr, first_s=first / sr, last_s=last / sr, embed=space is not None
            )
            part = await run_when_free(state, job)
            if gathered is None:
                gathered = part
            else:
                gathered.extend(part)
            done = last >= len(y)
            self.progress[classification_id] = last / sr
            if gathered.n_windows == 0:
                continue
            summary = functools.partial(classifier.summarize, gathered, n_samples=last, name=name, complete=done)
            prediction = (await run_in_threadpool(summary)).to_dict()
            still_there = await run_in_threadpool(_save, state, classification_id, prediction, last / sr, done, space)
            if not still_there:
                return


def _decode(path: Path, sr: int, max_duration_s: float | None) -> np.ndarray:
    from genrekit.audio import load_audio

    y, _ = load_audio(str(path), sr=sr, mono=True, max_duration_s=max_duration_s)
    return np.asarray(y, dtype=np.float32)


def whole_song_result(quick: dict[str, Any], whole: dict[str, Any]) -> dict[str, Any]:
    """The stored result once every window is classified: the whole song's answer (genres,
    uncertainty, warnings, tags, shares, segments, duration) in place of the quick one's,
    under the quick result's name; ``embedding`` and ``segment_embeddings`` stay in ``whole``
    for the vector store."""
    answer = {k: v for k, v in whole.items() if k not in ("name", "embedding", "segment_embeddings")}
    return {**quick, **answer, "complete": True}


def _save(
    state: Any, classification_id: str, prediction: dict[str, Any], covered_s: float, done: bool, space: str | None
) -> bool:
    """Store one step's timeline (the last step: the whole song's answer, and its embedding in
    ``space``); False when the row is gone or was classified by another model version (a reload
    meanwhile): the job stops."""
    with state.new_session() as session:
        row = queries.get_classification(session, classification_id=classification_id)
        if row is None or row.result.get("model") != prediction.get("model"):
            return False
        if done:
            result = whole_song_result(row.result, prediction)
            vector = prediction.get("embedding")
            segment_vectors = prediction.get("segment_embeddings")
            return queries.replace_result(
                session,
                classification_id=classification_id,
                result=result,
                embedding=vector,
                segment_embeddings=segment_vectors,
                embedding_space=space,
            )
        spread = row.result.get("segments", [])
        segments = merged_segments(prediction["segments"], spread, covered_s)
        result = {**row.result, "segments": segments, "complete": bool(row.result.get("complete", False))}
        return queries.replace_result(session, classification_id=classification_id, result=result)

