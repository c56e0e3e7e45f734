"""Classify submitted audio: dedup by content, run the job on the worker pool, store.

:func:`run_classification` is the job (:meth:`genrekit.predict.Classifier.predict` on the
stored upload, the same call as the CLI's); :func:`classify_incoming` wraps it with the
content cache, in-flight coalescing of identical submissions, and storage. The display data
(waveform, spectrogram) and the full timeline follow in the background.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.from_thread
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from genrekit.errors import GenrekitError
from genrekit.service.config import MEGABYTE
from genrekit.service.errors import JobTimeoutError
from genrekit.service.intake.uploads import IncomingAudio
from genrekit.service.schemas import ClassificationPublic, ClassificationSummary
from genrekit.service.state import ServiceClassifier, ServiceState, model_identity
from genrekit.service.work.timeline import TimelineJobs, covered_from_start
from genrekit.store import queries
from genrekit.store.tables import Classification

MEDIA_TYPES = {
    "wav": "audio/wav",
    "rf64": "audio/wav",
    "w64": "audio/wav",
    "flac": "audio/flac",
    "ogg_flac": "audio/ogg",
    "ogg": "audio/ogg",
    "ogg_vorbis": "audio/ogg",
    "ogg_opus": "audio/ogg",
    "ogg_speex": "audio/ogg",
    "mp1": "audio/mpeg",
    "mp2": "audio/mpeg",
    "mp3": "audio/mpeg",
    "aac": "audio/aac",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "mov": "video/quicktime",
    "3gp": "audio/3gpp",
    "webm": "audio/webm",
    "matroska": "audio/x-matroska",
    "aiff": "audio/aiff",
    "aifc": "audio/aiff",
    "au": "audio/basic",
    "caf": "audio/x-caf",
    "asf": "audio/x-ms-wma",
    "amr": "audio/amr",
}


@dataclass(frozen=True)
class JobOutput:
    """What one classification job produces (the visuals come later, see :mod:`genrekit.service.work.visual_jobs`)."""

    result: dict[str, Any]
    elapsed_s: float


def run_classification(
    path: Path, *, classifier: ServiceClassifier, name: str, max_duration_s: float | None
) -> JobOutput:
    """Classify the stored upload with :meth:`genrekit.predict.Classifier.predict`, as the CLI does.

    The classifier reads only the excerpts it needs where the format allows seeking (the
    default model: 4 windows spread over the song). Runs on a worker thread. Silent, short
    and not-music inputs are classified like any other and carry warnings (and the
    uncertainty ``unknown`` for silence and not-music), in the API as in the CLI and Python.

    Raises
    ------
    NotAudioError, UnsupportedFormatError, AudioDecodeError, AudioTooLongError, EmptyAudioError
        From decoding (``EmptyAudioError``: no samples at all).
    """
    start = time.perf_counter()
    try:
        options = {"embed": True} if embedding_space(classifier) is not None else {}
        prediction = classifier.predict(str(path), name=name, max_duration_s=max_duration_s, **options)
    except GenrekitError as error:
        raise _renamed(error, str(path), name) from error
    return JobOutput(prediction.to_dict(), time.perf_counter() - start)


def embedding_space(classifier: ServiceClassifier) -> str | None:
    """The classifier's embedding space (``name@version``), or None where it has no embedding."""
    spec = getattr(classifier, "embedding", None)
    return spec.space if spec is not None else None


def _renamed(error: GenrekitError, temp_name: str, name: str) -> GenrekitError:
    """The same error with the temporary file's path replaced by the input's name."""
    message = str(error).replace(temp_name, name)
    try:
        return type(error)(message)
    except TypeError:
        return error


def media_type_of(path: Path) -> str:
    """MIME type of an audio file from its first bytes (``application/octet-stream`` if unknown)."""
    from genrekit.audio.sniff import SNIFF_BYTES, sniff_format

    with open(path, "rb") as handle:
        header = handle.read(SNIFF_BYTES)
    return MEDIA_TYPES.get(sniff_format(header) or "", "application/octet-stream")


async def classify_incoming(
    state: ServiceState, incoming: IncomingAudio, *, name: str, owner_key_id: str | None = None
) -> tuple[Classification, bool]:
    """Classify submitted audio, or find it already classified.

    Parameters
    ----------
    state : ServiceState
    incoming : IncomingAudio
        The spooled submission (the caller discards it afterwards).
    name : str
        Name put in the result (file name or URL).
    owner_key_id : str or None
        The submitting API key (``None`` in open mode): the stored row is private to it, and
        only its own earlier results are reused.

    Returns
    -------
    row : Classification
        The stored classification.
    cached : bool
        True when the same bytes were already classified by the same model version
        (or are being classified by a concurrent request): no inference ran for this call.
    """
    classifier = state.require_classifier()
    model_name, model_version = model_identity(classifier)
    existing = await run_in_threadpool(
        _find_existing,
        state,
        sha256=incoming.sha256,
        model_name=model_name,
        model_version=model_version,
        owner_key_id=owner_key_id,
    )
    if existing is not None:
        if incoming.filename and incoming.filename != existing.filename:
            existing = await run_in_threadpool(_rename, state, existing.id, incoming.filename) or existing
        return existing, True
    key = (incoming.sha256, model_name, model_version, owner_key_id or "")
    pending = state.inflight.get(key)
    if pending is not None:
        return await asyncio.shield(pending), True
    future: asyncio.Future[Classification] = asyncio.get_running_loop().create_future()
    state.inflight[key] = future
    try:
        row = await _compute_and_store(state, classifier, incoming, name=name, owner_key_id=owner_key_id)
    except Exception as error:
        future.set_exception(error)
        future.exception()
        raise
    except BaseException:
        future.set_exception(JobTimeoutError("the identical request being processed was cancelled; retry"))
        future.exception()
        raise
    else:
        future.set_result(row)
        return row, False
    finally:
        state.inflight.pop(key, None)


def _find_existing(
    state: ServiceState, *, sha256: str, model_name: str, model_version: str, owner_key_id: str | None
) -> Classification | None:
    with state.new_session() as session:
        return queries.find_by_content(
            session, sha256=sha256, model_name=model_name, model_version=model_version, owner_key_id=owner_key_id
        )


def _rename(state: ServiceState, classification_id: str, filename: str) -> Classification | None:
    with state.new_session() as session:
        return queries.rename_classification(session, classification_id=classification_id, filename=filename)


def follow_with_visuals(state: ServiceState, row: Classification, incoming: IncomingAudio) -> bool:
    """Start computing the waveform peaks and spectrogram picture in the background when the
    stored classification has none (see :mod:`genrekit.service.work.visual_jobs`).

    The job works on its own name of ``incoming``'s file. Returns whether a job started.
    """
    if row.visuals is not None or state.visuals.running(row.id):
        return False
    return state.visuals.start(state, classification_id=row.id, path=incoming.copy())


def resume_full_timeline(state: ServiceState, session: Session, row: Classification) -> bool:
    """From a worker thread: restart the full timeline of a stored result left with gaps (its job
    was cut short by a restart, or it predates full timelines), from its kept audio.

    Returns whether a job started (never without kept audio).
    """
    if not state.settings.full_timeline or row.result.get("complete", True) or state.timelines.running(row.id):
        return False
    audio = queries.get_audio(session, classification_id=row.id)
    if audio is None:
        return False
    fd, name = tempfile.mkstemp(prefix="genrekit-kept-", suffix=".audio")
    with os.fdopen(fd, "wb") as handle:
        handle.write(audio.content)
    start = functools.partial(
        state.timelines.start, state, classification_id=row.id, path=Path(name), name=row.filename or row.result["name"]
    )
    return bool(anyio.from_thread.run_sync(start))


def follow_with_full_timeline(state: ServiceState, row: Classification, incoming: IncomingAudio, *, name: str) -> bool:
    """Start classifying every window in the background when the stored timeline has gaps.

    The job takes over ``incoming``'s file. Returns whether a job started.
    """
    if not state.settings.full_timeline or row.result.get("complete", True) or state.timelines.running(row.id):
        return False
    return state.timelines.start(state, classification_id=row.id, path=incoming.detach(), name=name)


async def _compute_and_store(
    state: ServiceState,
    classifier: ServiceClassifier,
    incoming: IncomingAudio,
    *,
    name: str,
    owner_key_id: str | None,
) -> Classification:
    settings = state.settings
    job = functools.partial(
        run_classification, incoming.path, classifier=classifier, name=name, max_duration_s=settings.max_duration_s
    )
    output = await state.require_pool().run(job)
    state.metrics.inference_time.observe(output.elapsed_s)
    return await run_in_threadpool(_store, state, incoming, output, owner_key_id, embedding_space(classifier))


def _store(
    state: ServiceState, incoming: IncomingAudio, output: JobOutput, owner_key_id: str | None, space: str | None
) -> Classification:
    settings = state.settings
    keep = settings.keeps_audio and incoming.n_bytes <= settings.audio_max_file_mb * MEGABYTE
    audio = incoming.read_bytes() if keep else None
    media_type = media_type_of(incoming.path) if audio is not None else "application/octet-stream"
    now = dt.datetime.now(dt.timezone.utc)
    with state.new_session() as session:
        row = queries.create_classification(
            session,
            classification_id=uuid.uuid4().hex,
            created_at=now,
            sha256=incoming.sha256,
            filename=incoming.filename or str(output.result.get("name") or "") or None,
            result=output.result,
            visuals=None,
            audio=audio,
            audio_media_type=media_type,
            owner_key_id=owner_key_id,
            embedding_space=space,
        )
        if audio is not None:
            queries.prune_audio(
                session,
                older_than=now - dt.timedelta(days=settings.audio_max_age_days),
                max_total_bytes=int(settings.audio_max_total_mb * MEGABYTE),
            )
        return row


def timeline_of(row: Classification, timelines: TimelineJobs) -> dict[str, Any]:
    """Progress of a classification's full timeline (see :class:`~genrekit.service.schemas.TimelinePublic`)."""
    segments = row.result.get("segments", [])
    if row.result.get("complete", True):
        return {"state": "complete", "covered_s": float(row.result.get("duration_s", 0.0))}
    state = "running" if timelines.running(row.id) else "partial"
    return {"state": state, "covered_s": max(covered_from_start(segments), timelines.progress.get(row.id, 0.0))}


def to_public(
    row: Classification, *, cached: bool, timelines: TimelineJobs | None = None, has_audio: bool = False
) -> ClassificationPublic:
    """The API view of a stored classification."""
    return ClassificationPublic.model_validate(
        {
            **row.result,
            "id": row.id,
            "created_at": row.created_at,
            "sha256": row.sha256,
            "filename": row.filename,
            "cached": cached,
            "timeline": timeline_of(row, timelines or TimelineJobs()),
            "has_audio": has_audio,
        }
    )


def to_summary(row: Classification) -> ClassificationSummary:
    """The history-list view of a stored classification."""
    return ClassificationSummary(
        id=row.id,
        created_at=row.created_at,
        sha256=row.sha256,
        filename=row.filename,
        duration_s=row.duration_s,
        model={"name": row.model_name, "version": row.model_version},
        top_genre=row.top_genre,
        top_score=row.top_score,
        genres=row.result.get("genres", []),
        warnings=row.result.get("warnings", []),
        uncertainty=row.result.get("uncertainty"),
        complete=row.result.get("complete", True),
    )
