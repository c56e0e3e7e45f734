"""Bundle + waveform -> Prediction (segments + whole song).

The one result schema shared by the Python API, the CLI, the REST API and batch jobs
(:class:`Prediction` and its parts), and :class:`Classifier`, the whole-song inference
that produces it.

How a song is classified
------------------------
1. Decode to mono float32 at the model's ``sample_rate`` (:func:`genrekit.audio.iter_audio_blocks`),
   in blocks of :data:`STREAM_BLOCK_S` seconds, so memory stays bounded for a 2-hour mix.
2. Cut windows of the model's ``window_s`` every ``hop_s`` seconds (default: ``hop_s = window_s``,
   no overlap). Where the last regular window stops short of the end, one more window is
   aligned to the end of the audio (it overlaps its predecessor), so the windows cover the
   whole input and no window is mostly padding. Only an input shorter than one window is
   zero-padded (and carries the warning :data:`WARNING_SHORT`).
3. Run the model on batches of at most ``batch_size`` windows (a background thread decodes
   the next block meanwhile). A model offering ``predict_all_windows(windows) ->
   (probs, {backbone: tag_probs})`` gives genres and tags in one pass; otherwise
   ``predict_proba_windows`` (and ``predict_tags_windows`` when tags are asked for) are used.
4. Aggregate window probabilities into the track's: the (weighted) mean of the windows'
   probabilities (``aggregation="mean"``) or their renormalised geometric mean
   (``"log_mean"``). Windows quieter than :data:`SILENCE_DBFS` (intros, gaps) do not vote
   unless every window is that quiet.
5. The timeline has one :class:`Segment` per window (its span, top genre and score); the UI
   may merge runs.
6. Tags: where the model has a tagging backbone, the windows' tag probabilities are averaged
   (same windows as the genres) and the backbones' vocabularies are merged into one list:
   names lower-cased, a tag in both (``rock``, ``pop``, ``metal``, ...) keeps its higher score.
7. Checks: an input whose RMS is below :data:`SILENCE_DBFS` gets :data:`WARNING_SILENT`; an
   input that looks like noise, a steady tone or speech rather than music gets
   :data:`WARNING_NOT_MUSIC` (see :func:`music_evidence`); an input shorter than one window
   gets :data:`WARNING_SHORT`. Genres are still returned, but they are not to be trusted
   then (the silence check replaces the music check: a near-silent input only carries
   :data:`WARNING_SILENT`).

Speed: :meth:`Classifier.load` runs ``musicnn_head`` models with ONNX Runtime by default
(:mod:`genrekit.models.onnx_export`; ``runtime="torch"`` for PyTorch). ``max_windows=N``
(the bundle's card may set a default, the default model's is 4) trades the full timeline
for speed: a song that would need more than N windows is classified from N windows, one
centred in each of N equal parts of the song (:func:`spread_starts`), and only those
excerpts are decoded where the format allows seeking (:class:`genrekit.audio.ExcerptReader`:
WAV, FLAC, Ogg, MP3, AIFF, ...; the silence check then measures the excerpts). Other formats
(M4A/AAC, WebM, ...), arrays, and files whose excerpts fail to decode go through the whole
stream, and the slicer cuts only the planned windows from it. The timeline has gaps.
``max_windows=0`` classifies every window.

Errors: a decode failure, an empty input or a too-long one raises the typed error of
:mod:`genrekit.audio` (``AudioDecodeError``, ``NotAudioError``, ``EmptyAudioError``,
``AudioTooLongError``, ...); :meth:`Classifier.iter_predict` yields them in place instead.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Union

import numpy as np
import scipy.fft

from genrekit.errors import (
    AudioTooLongError,
    BundleError,
    EmptyAudioError,
    GenrekitError,
    InvalidParameterError,
)

if TYPE_CHECKING:
    from genrekit.bundle.card import ModelCard
    from genrekit.models.base import WaveformClassifier


@dataclass(frozen=True)
class GenreScore:
    """One label with its track-level probability (0..1)."""

    genre: str
    score: float


@dataclass(frozen=True)
class Segment:
    """One analysis window: its span (seconds) and its top genre."""

    start_s: float
    end_s: float
    genre: str
    score: float


@dataclass(frozen=True)
class TagScore:
    """One backbone tag (mood, era, instrument, style) with its probability (0..1)."""

    tag: str
    score: float


@dataclass(frozen=True)
class ModelInfo:
    """Name and version of the model that produced a prediction."""

    name: str
    version: str


@dataclass(frozen=True)
class Prediction:
    """Result of classifying one input.

    Attributes
    ----------
    name : str
        Path or name of the input.
    duration_s : float
        Duration of the decoded audio (seconds).
    model : ModelInfo
    genres : list of GenreScore
        Every label with its score, sorted by decreasing score.
    segments : list of Segment
        The per-window timeline, in time order.
    tags : list of TagScore
        Top-k backbone tags, sorted by decreasing score (empty if the model has none).
    warnings : list of str
        e.g. ``"near-silent input"`` or ``"not music"``: the genre is then not trustworthy.
    """

    name: str
    duration_s: float
    model: ModelInfo
    genres: list[GenreScore]
    segments: list[Segment]
    tags: list[TagScore] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def top_genre(self) -> str:
        """The label with the highest score."""
        return self.genres[0].genre

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary in the shared result schema."""
        return asdict(self)


AudioSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO, np.ndarray]
"""What :meth:`Classifier.predict` accepts: a path, encoded bytes, a binary file object, or
a waveform array (with its ``sr``)."""

DEFAULT_TOP_K = 10  # tags returned per prediction
DEFAULT_BATCH_SIZE = 8  # windows per forward pass (~1 GB peak RSS with the default model; 16: more, no faster)
STREAM_BLOCK_S = 30.0  # seconds of audio decoded per block
SILENCE_DBFS = -60.0  # dB re full scale (RMS): quieter is "near-silent"
AGGREGATIONS = ("mean", "log_mean")
RUNTIMES = ("auto", "onnx", "torch")

WARNING_SILENT = "near-silent input"
WARNING_NOT_MUSIC = "may not be music"
WARNING_SHORT = "input shorter than one analysis window; padded with silence"

_LOG_FLOOR = 1e-7  # probability floor before taking logs


def rms_dbfs(y: np.ndarray) -> np.ndarray:
    """RMS level along the last axis, in dB re full scale.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n_samples)]
        Audio in [-1, 1].

    Returns
    -------
    np.ndarray [shape=(...)]
        ``10 log10(mean(y**2))``: 0 dBFS for a full-scale square wave, -3 dBFS for a
        full-scale sine; floored at -200 dBFS for digital silence.
    """
    power = np.mean(np.square(np.asarray(y, dtype=np.float64)), axis=-1)
    return 10.0 * np.log10(np.maximum(power, 1e-20))


def aggregate_probabilities(
    probs: np.ndarray, *, weights: np.ndarray | None = None, method: str = "mean"
) -> np.ndarray:
    """Combine window probabilities into one track-level distribution.

    Parameters
    ----------
    probs : np.ndarray [shape=(n_windows, n_labels)]
        Per-window class probabilities (rows sum to 1).
    weights : np.ndarray [shape=(n_windows,)] or None
        Non-negative window weights; ``None`` weighs every window equally.
    method : {"mean", "log_mean"}
        ``"mean"``: weighted arithmetic mean of the probabilities. ``"log_mean"``: weighted
        mean of the log-probabilities (floored at 1e-7), exponentiated and renormalised
        (a geometric mean: one confident window weighs less, consistent windows more).

    Returns
    -------
    np.ndarray [shape=(n_labels,), dtype=float64]
        Sums to 1.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] == 0:
        raise InvalidParameterError(f"probs must have shape (n_windows >= 1, n_labels >= 1), got {probs.shape}")
    if method not in AGGREGATIONS:
        raise InvalidParameterError(f"method must be one of {AGGREGATIONS}, got {method!r}")
    if weights is None:
        w = np.full(probs.shape[0], 1.0 / probs.shape[0])
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (probs.shape[0],) or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise InvalidParameterError("weights must be finite, non-negative, one per window, not all zero")
        w = w / w.sum()
    if method == "mean":
        out = w @ probs
    else:
        log_mean = w @ np.log(np.maximum(probs, _LOG_FLOOR))
        out = np.exp(log_mean - log_mean.max())
    return out / out.sum()


def merge_tag_scores(
    tag_probs: dict[str, np.ndarray], tag_names: dict[str, Sequence[str]]
) -> dict[str, float]:
    """Merge the tag vocabularies of several backbones into one ``{tag: score}``.

    Names are lower-cased (MSD's ``"Hip-Hop"`` becomes ``"hip-hop"``); a tag present in
    several vocabularies (``"rock"`` in MSD and MTT) keeps its highest score.

    Parameters
    ----------
    tag_probs : dict of str to np.ndarray [shape=(n_tags,)]
        Track-level tag probabilities per backbone.
    tag_names : dict of str to list of str
        The tag names of each backbone, in column order.
    """
    merged: dict[str, float] = {}
    for backbone, scores in tag_probs.items():
        names = tag_names[backbone]
        if len(names) != len(scores):
            raise InvalidParameterError(
                f"backbone {backbone!r} gives {len(scores)} tag scores for {len(names)} tag names"
            )
        for tag, score in zip(names, scores):
            key = str(tag).lower()
            merged[key] = max(merged.get(key, 0.0), float(score))
    return merged


MUSIC_EVIDENCE_NAMES = ("flatness", "low_energy_ratio", "level_std_db")
NOISE_FLATNESS = 0.25  # median spectral flatness at or above: noise-like
STEADY_LEVEL_STD_DB = 0.5  # median frame-level spread (dB) at or below: steady tone, hum or noise
SPEECH_LOW_ENERGY_RATIO = 0.3  # median share of frames quieter than half the mean RMS ...
SPEECH_LEVEL_STD_DB = 8.0  # ... with a frame-level spread (dB) at least this: speech with pauses

_EVIDENCE_N_FFT = 512  # samples per analysis frame (32 ms at 16 kHz)
_EVIDENCE_BAND_HZ = (60.0, 7000.0)  # band of the flatness measure
_FRAME_FLOOR_DBFS = -100.0  # frame levels are floored here, so digital silence counts as very quiet


def music_evidence(windows: np.ndarray, sr: int) -> np.ndarray:
    """Cheap per-window descriptors that tell music from noise, steady tones and speech.

    Computed on non-overlapping Hann-windowed frames of 512 samples.

    Parameters
    ----------
    windows : np.ndarray [shape=(n_windows, n_samples), dtype=float32]
        Mono audio windows.
    sr : int > 0
        Sample rate (Hz).

    Returns
    -------
    np.ndarray [shape=(n_windows, 3), dtype=float64]
        Columns follow :data:`MUSIC_EVIDENCE_NAMES`: the median over frames of the spectral
        flatness (geometric / arithmetic mean of the power spectrum between 60 Hz and
        7 kHz; white noise ~0.56, music below ~0.24); the low-energy ratio (share of frames
        whose RMS is below half the window's mean frame RMS; speech with pauses ~0.35-0.45,
        music mostly below 0.3); the standard deviation of the frame levels (dB; a steady
        sine gives 0, music at least ~0.8).
    """
    windows = np.asarray(windows, dtype=np.float32)
    if windows.ndim != 2:
        raise InvalidParameterError(f"windows must have shape (n_windows, n_samples), got {windows.shape}")
    if sr <= 0:
        raise InvalidParameterError(f"sr must be > 0 Hz, got {sr}")
    n_fft = _EVIDENCE_N_FFT
    n_frames = windows.shape[1] // n_fft
    if n_frames < 2:
        raise InvalidParameterError(f"windows must hold at least {2 * n_fft} samples, got {windows.shape[1]}")
    frames = windows[:, : n_frames * n_fft].reshape(windows.shape[0], n_frames, n_fft)
    hann = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    spectrum = scipy.fft.rfft(frames * hann, axis=-1)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    in_band = (freqs >= _EVIDENCE_BAND_HZ[0]) & (freqs <= _EVIDENCE_BAND_HZ[1])
    band = spectrum[..., in_band]
    power = band.real**2 + band.imag**2 + np.float32(1e-12)
    flatness = np.exp(np.log(power).mean(axis=-1, dtype=np.float64)) / power.mean(axis=-1, dtype=np.float64)
    frame_rms = np.sqrt(np.mean(np.square(frames), axis=-1, dtype=np.float64))
    low_energy = (frame_rms < 0.5 * frame_rms.mean(axis=-1, keepdims=True)).mean(axis=-1)
    level_db = np.maximum(20.0 * np.log10(np.maximum(frame_rms, 1e-30)), _FRAME_FLOOR_DBFS)
    return np.stack([np.median(flatness, axis=-1), low_energy, level_db.std(axis=-1)], axis=-1)


def is_music(evidence: np.ndarray) -> bool:
    """Decide from :func:`music_evidence` rows (one per window) whether the input is music.

    The medians over windows are compared with fixed thresholds measured on 282 real
    music clips (GTZAN dev + extra-pool) against white and pink noise, sines, harmonic
    tones, sweeps, mains hum and synthetic speech: noise-like (flatness >=
    :data:`NOISE_FLATNESS`), steady (level spread <= :data:`STEADY_LEVEL_STD_DB` dB) or
    speech-like (low-energy ratio >= :data:`SPEECH_LOW_ENERGY_RATIO` and level spread >=
    :data:`SPEECH_LEVEL_STD_DB` dB) is not music. Speech over a loud noise floor or over
    music is not caught.

    Parameters
    ----------
    evidence : np.ndarray [shape=(n_windows, 3)]

    Returns
    -------
    bool
    """
    evidence = np.asarray(evidence, dtype=np.float64)
    if evidence.ndim != 2 or evidence.shape[1] != len(MUSIC_EVIDENCE_NAMES) or evidence.shape[0] == 0:
        raise InvalidParameterError(f"evidence must have shape (n_windows >= 1, 3), got {evidence.shape}")
    flatness, low_energy, level_std = np.median(evidence, axis=0)
    noise_like = flatness >= NOISE_FLATNESS
    steady = level_std <= STEADY_LEVEL_STD_DB
    speech_like = low_energy >= SPEECH_LOW_ENERGY_RATIO and level_std >= SPEECH_LEVEL_STD_DB
    return not (noise_like or steady or speech_like)


@dataclass(frozen=True)
class _Window:
    """One analysis window: first sample, number of real (unpadded) samples, samples."""

    start: int
    n_valid: int
    samples: np.ndarray


class _WindowSlicer:
    """Cut a stream of audio blocks into windows, holding at most one window plus one block.

    Regular windows start every ``hop_length`` samples, or, given ``starts``, at those
    planned (increasing) samples only. After the stream ends, if the next window would start
    before the end but not fit (a partial window), or planned windows remain that the audio
    did not reach (its length was estimated too long), and the audio goes on past the last
    window's end, one window aligned to the end of the audio is added; an input shorter than
    one window gives a single zero-padded window.
    """

    def __init__(self, window_length: int, hop_length: int, starts: Sequence[int] | None = None) -> None:
        self.window_length = window_length
        self.hop_length = hop_length
        self.n_samples = 0
        self.n_windows = 0
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0
        self._planned = None if starts is None else [int(start) for start in starts]
        self._n_started = 0  # windows cut so far at a regular or planned start
        self._next_start: int | None = self._start_at(0)
        self._last_end = 0

    def _start_at(self, index: int) -> int | None:
        """Start of the ``index``-th regular or planned window (``None``: no more planned)."""
        if self._planned is None:
            return index * self.hop_length
        return self._planned[index] if index < len(self._planned) else None

    def _advance(self) -> None:
        self._n_started += 1
        self._next_start = self._start_at(self._n_started)

    def push(self, block: np.ndarray) -> Iterator[_Window]:
        """Add a block; yield the windows it completes (consume them all before the next push)."""
        self._buffer = np.concatenate([self._buffer, block]) if self._buffer.size else block
        self.n_samples += block.shape[0]
        length = self.window_length
        while self._next_start is not None and self._next_start + length <= self.n_samples:
            offset = self._next_start - self._buffer_start
            yield _Window(self._next_start, length, self._buffer[offset : offset + length])
            self.n_windows += 1
            self._last_end = self._next_start + length
            self._advance()
        upcoming = self.n_samples if self._next_start is None else self._next_start
        keep_from = max(self._buffer_start, min(upcoming, self.n_samples - length))
        if keep_from > self._buffer_start:
            self._buffer = self._buffer[keep_from - self._buffer_start :]
            self._buffer_start = keep_from

    def finish(self) -> Iterator[_Window]:
        """Yield the closing window: end-aligned, or zero-padded for a short input."""
        length = self.window_length
        if self.n_samples == 0:
            return
        if self.n_windows == 0 and self.n_samples < length:
            padded = np.zeros(length, dtype=np.float32)
            padded[: self.n_samples] = self._buffer[-self.n_samples :]
            self.n_windows += 1
            yield _Window(0, self.n_samples, padded)
        elif (
            self._last_end < self.n_samples
            and self._next_start is not None
            and (self._planned is not None or self._next_start < self.n_samples)
        ):
            start = self.n_samples - length
            self.n_windows += 1
            yield _Window(start, length, self._buffer[start - self._buffer_start : start - self._buffer_start + length])


def slice_windows(y: np.ndarray, *, window_length: int, hop_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a waveform into analysis windows exactly as :meth:`Classifier.predict` does.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), dtype=float32]
        Mono audio.
    window_length, hop_length : int > 0
        Window length and hop (samples).

    Returns
    -------
    starts : np.ndarray [shape=(n_windows,), dtype=int64]
        First sample of each window.
    n_valid : np.ndarray [shape=(n_windows,), dtype=int64]
        Real (unpadded) samples in each window.
    windows : np.ndarray [shape=(n_windows, window_length), dtype=float32]
        Regular windows every ``hop_length``, one end-aligned closing window where the last
        regular one stops short of the end, or one zero-padded window for a short input.
    """
    if window_length < 1 or hop_length < 1:
        raise InvalidParameterError(f"window_length and hop_length must be >= 1, got {window_length}, {hop_length}")
    slicer = _WindowSlicer(int(window_length), int(hop_length))
    y = np.ascontiguousarray(y, dtype=np.float32)
    found = [(w.start, w.n_valid, w.samples) for w in slicer.push(y)]
    found += [(w.start, w.n_valid, w.samples) for w in slicer.finish()]
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, window_length), np.float32)
    starts, n_valid, windows = zip(*found)
    return np.array(starts, np.int64), np.array(n_valid, np.int64), np.stack(windows)


def spread_starts(n_samples: int, *, window_length: int, hop_length: int, max_windows: int) -> np.ndarray | None:
    """Starts of ``max_windows`` windows spread over a song, or ``None`` if they are not needed.

    Window ``i`` is centred in the ``i``-th of ``max_windows`` equal parts of the song (so
    neither the first nor the last is the intro's or the outro's first seconds).

    Parameters
    ----------
    n_samples : int
        Length of the song (samples).
    window_length, hop_length : int > 0
        Window length and the regular hop (samples).
    max_windows : int > 0
        Most windows wanted.

    Returns
    -------
    np.ndarray [shape=(max_windows,), dtype=int64] or None
        Increasing starts, each in ``[0, n_samples - window_length]``; ``None`` where the
        regular windows (every ``hop_length``, as :func:`slice_windows` cuts them) are no
        more than ``max_windows``.
    """
    if window_length < 1 or hop_length < 1 or max_windows < 1:
        raise InvalidParameterError(
            "window_length, hop_length and max_windows must be >= 1, got "
            f"{window_length}, {hop_length}, {max_windows}"
        )
    if n_samples <= window_length:
        return None
    n_regular = 1 + math.ceil((n_samples - window_length) / hop_length)
    if n_regular <= max_windows:
        return None
    centres = (np.arange(max_windows) + 0.5) * (n_samples / max_windows)
    starts = np.clip(centres - window_length / 2, 0, n_samples - window_length)
    return np.floor(starts).astype(np.int64)


def _prefetch(iterator: Iterator[Any], depth: int) -> Iterator[Any]:
    """Run ``iterator`` in a background thread, ``depth`` items ahead of the consumer.

    Decoding (an ffmpeg subprocess, soxr) then overlaps inference. Exceptions are re-raised
    in the consumer; closing the consumer stops and closes the producer.
    """
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                items.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in iterator:
                if not put(("item", item)):
                    break
            else:
                put(("done", None))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put(("error", error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="genrekit-decode", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = items.get()
            if kind == "item":
                yield item
            elif kind == "error":
                raise item
            else:
                return
    finally:
        stop.set()
        worker.join()


def _as_mono_float32(y: np.ndarray) -> np.ndarray:
    """Validate a waveform array and return it mono float32 (channels first for 2-D input)."""
    array = np.asarray(y)
    if array.dtype.kind in "iu":
        info = np.iinfo(array.dtype)
        array = array.astype(np.float32) / float(max(abs(info.min), info.max))
    elif array.dtype.kind != "f":
        raise InvalidParameterError(f"waveform must be a float or integer array, got dtype {array.dtype}")
    if array.ndim == 2:
        array = array.mean(axis=0)
    elif array.ndim != 1:
        raise InvalidParameterError(
            f"waveform must have shape (n_samples,) or (n_channels, n_samples), got {array.shape}"
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    if array.size == 0:
        raise EmptyAudioError("waveform holds no samples")
    if not np.isfinite(array).all():
        raise InvalidParameterError("waveform holds NaN or infinite values")
    return array


def _check_max_windows(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InvalidParameterError(f"max_windows must be an int >= 0 (0: every window), got {value!r}")
    return int(value)


def _source_name(source: Any) -> str:
    """A readable name for an input: its path, a file object's name, or a placeholder."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, np.ndarray):
        return "<array>"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<stream>"


@dataclass
class _Accumulator:
    """Per-window results gathered batch by batch."""

    starts: list[np.ndarray] = field(default_factory=list)
    ends: list[np.ndarray] = field(default_factory=list)
    probs: list[np.ndarray] = field(default_factory=list)
    levels_db: list[np.ndarray] = field(default_factory=list)
    evidence: list[np.ndarray] = field(default_factory=list)
    tags: dict[str, list[np.ndarray]] = field(default_factory=dict)
    sum_squares: float = 0.0
    n_measured: int = 0  # samples whose squares are in sum_squares


def _with_onnx_runtime(model: Any, card: ModelCard, *, required: bool) -> Any:
    """The model wrapped for ONNX Runtime where possible (see :meth:`Classifier.load`)."""
    try:
        from genrekit.models import onnx_export
    except ImportError as error:
        if required:
            raise BundleError(f"runtime 'onnx' needs onnxruntime and onnx: {error}") from error
        return model
    if not onnx_export.supports_onnx(model):
        if required:
            raise BundleError(f"model type {card.model_type!r} has no ONNX runtime")
        return model
    try:
        return onnx_export.to_onnx_runtime(model, card)
    except BundleError as error:
        if required:
            raise
        warnings.warn(f"falling back to PyTorch: {error}", RuntimeWarning, stacklevel=3)
        return model


class Classifier:
    """Whole-song genre classification with a bundled :class:`WaveformClassifier`.

    Parameters
    ----------
    model : WaveformClassifier
        The model (features computed inside it).
    card : ModelCard or None
        Its model card; ``None`` for a model built in memory (name ``"unnamed"``).
    batch_size : int
        Windows per forward pass: bounds memory (default 8; the default model's
        activations are ~25 MB per window and backbone, the audio 0.2 MB per window).
    aggregation : {"mean", "log_mean"} or None
        How window probabilities become the track's (see :func:`aggregate_probabilities`);
        ``None`` reads ``card.config["aggregation"]``, else ``"mean"``.
    silence_dbfs : float
        RMS level (dBFS) below which the input (or a window) counts as near-silent.
    check_music : bool
        Compute the "may not be music" check (see :func:`music_evidence`).
    prefetch : bool
        Decode the next block in a background thread while the model runs.
    max_windows : int >= 0 or None
        Default of :meth:`predict`'s ``max_windows``; ``None`` reads
        ``card.config["max_windows"]``, else 0 (every window).
    """

    def __init__(
        self,
        model: WaveformClassifier,
        card: ModelCard | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        aggregation: str | None = None,
        silence_dbfs: float = SILENCE_DBFS,
        check_music: bool = True,
        prefetch: bool = True,
        max_windows: int | None = None,
    ) -> None:
        if int(batch_size) < 1:
            raise InvalidParameterError(f"batch_size must be >= 1, got {batch_size}")
        if max_windows is None:
            max_windows = int((card.config if card is not None else {}).get("max_windows", 0))
        self.max_windows = _check_max_windows(max_windows)
        if aggregation is None:
            aggregation = str((card.config if card is not None else {}).get("aggregation", "mean"))
        if aggregation not in AGGREGATIONS:
            raise InvalidParameterError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
        self.model = model
        self._card = card
        self.batch_size = int(batch_size)
        self.aggregation = aggregation
        self.silence_dbfs = float(silence_dbfs)
        self.check_music = bool(check_music)
        self.prefetch = bool(prefetch)
        self.labels: list[str] = list(model.labels)
        self.sample_rate = int(model.sample_rate)
        self.window_s = float(model.window_s)
        self.window_length = int(round(self.window_s * self.sample_rate))
        self.tag_names: dict[str, list[str]] = self._tag_vocabularies()

    @classmethod
    def load(cls, bundle: str | os.PathLike[str] | None = None, *, runtime: str = "auto", **kwargs: Any) -> Classifier:
        """Load a bundle (``None``: the default model shipped with genrekit).

        Parameters
        ----------
        bundle : path or None
            Bundle directory.
        runtime : {"auto", "onnx", "torch"}
            ``"onnx"`` runs a ``musicnn_head`` model's backbones and head with ONNX Runtime
            (2.4-4x faster on CPU, same outputs within ~1e-5; the graph is exported once and
            cached, see :mod:`genrekit.models.onnx_export`); ``"torch"`` runs PyTorch;
            ``"auto"`` uses ONNX Runtime where it is installed and the model supports it, and
            falls back to PyTorch (with a warning) if the export fails.
        **kwargs
            Options of :class:`Classifier` (``batch_size``, ``aggregation``, ...).

        Raises
        ------
        BundleError
            The bundle is missing, corrupt or of an unknown model type, or ``runtime="onnx"``
            cannot be honoured.
        """
        from genrekit.bundle.io import load_model

        if runtime not in RUNTIMES:
            raise InvalidParameterError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        card, model = load_model(bundle)
        if runtime != "torch":
            model = _with_onnx_runtime(model, card, required=runtime == "onnx")
        return cls(model, card, **kwargs)

    @property
    def card(self) -> ModelCard | None:
        """The model card of the loaded bundle."""
        return self._card

    @property
    def model_info(self) -> ModelInfo:
        """Name and version of the model, as stamped on every prediction."""
        if self._card is None:
            return ModelInfo(name="unnamed", version="")
        return ModelInfo(name=self._card.name, version=self._card.version)

    def _tag_vocabularies(self) -> dict[str, list[str]]:
        names = getattr(self.model, "tag_names", None)
        if isinstance(names, dict):
            return {str(k): [str(t) for t in v] for k, v in names.items()}
        if names:
            return {"tags": [str(t) for t in names]}
        return {}

    def predict(
        self,
        source: AudioSource,
        *,
        sr: int | None = None,
        name: str | None = None,
        top_k: int = DEFAULT_TOP_K,
        hop_s: float | None = None,
        batch_size: int | None = None,
        max_duration_s: float | None = None,
        max_windows: int | None = None,
    ) -> Prediction:
        """Classify one song.

        Parameters
        ----------
        source : path, bytes, binary file object, or np.ndarray
            Encoded audio (any format :mod:`genrekit.audio` decodes), or a waveform
            ``(n_samples,)`` / ``(n_channels, n_samples)`` (float in [-1, 1], or integer PCM).
        sr : int or None
            Sample rate (Hz) of an array ``source``; required for arrays, rejected otherwise
            (encoded audio carries its own rate).
        name : str or None
            Name put in the result; default: the path, the file object's name, ``"<bytes>"``
            or ``"<array>"``.
        top_k : int >= 0
            Number of tags to return (0: none; models without ``predict_all_windows`` then skip tagging).
        hop_s : float > 0 or None
            Seconds between window starts; ``None`` means ``window_s`` (no overlap).
        batch_size : int >= 1 or None
            Windows per forward pass; ``None`` keeps the classifier's.
        max_duration_s : float or None
            Refuse (``AudioTooLongError``) audio longer than this; ``None``: no limit
            (memory is bounded anyway).
        max_windows : int >= 0 or None
            Speed/accuracy knob: a song that needs more windows than this (at ``hop_s``) is
            classified from this many, spread over it (:func:`spread_starts`; the timeline
            then has gaps), and only those excerpts are decoded where the format allows
            seeking; formats that do not (M4A/AAC, WebM, ...) are decoded in full and the
            same spread windows cut from the stream, and a damaged file whose excerpts fail to
            decode goes through the full decoder and its failure policy. 0: every window. ``None``: the classifier's :attr:`max_windows`.

        Returns
        -------
        Prediction

        Raises
        ------
        InvalidParameterError, AudioError (decode, empty, too long, not audio), BundleError
        """
        if int(top_k) < 0:
            raise InvalidParameterError(f"top_k must be >= 0, got {top_k}")
        hop_length = self._hop_length(hop_s)
        size = self.batch_size if batch_size is None else int(batch_size)
        if size < 1:
            raise InvalidParameterError(f"batch_size must be >= 1, got {batch_size}")
        if max_duration_s is not None and not max_duration_s > 0:
            raise InvalidParameterError(f"max_duration_s must be > 0 or None, got {max_duration_s}")
        label = name if name is not None else _source_name(source)
        n_windows = self.max_windows if max_windows is None else _check_max_windows(max_windows)
        if isinstance(source, np.ndarray):
            source = self._waveform(source, sr)
        elif sr is not None:
            raise InvalidParameterError("sr applies to waveform arrays only; encoded audio carries its own rate")
        slicer = _WindowSlicer(self.window_length, hop_length)
        if n_windows:
            if isinstance(source, np.ndarray):
                n_total: int | None = len(source)
            else:
                if not isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)):
                    source = source.read()
                spread, n_total = self._predict_excerpts(
                    source, name=label, top_k=int(top_k), hop_length=hop_length, batch_size=size,
                    max_duration_s=max_duration_s, max_windows=n_windows,
                )
                if spread is not None:
                    return spread
            starts = None if n_total is None else spread_starts(
                n_total, window_length=self.window_length, hop_length=hop_length, max_windows=n_windows
            )
            if starts is not None:
                slicer = _WindowSlicer(self.window_length, hop_length, starts)
        blocks = self._blocks(source, max_duration_s)
        return self._classify_blocks(
            blocks, slicer=slicer, name=label, top_k=int(top_k), batch_size=size, max_duration_s=max_duration_s
        )

    def iter_predict(
        self,
        sources: Iterable[AudioSource],
        *,
        names: Sequence[str] | None = None,
        return_errors: bool = True,
        **options: Any,
    ) -> Iterator[Prediction | GenrekitError]:
        """Classify several inputs one after the other, yielding as each finishes.

        Parameters
        ----------
        sources : iterable of AudioSource
            Paths, bytes or file objects (arrays need ``sr`` in ``options``, shared by all).
        names : sequence of str or None
            Names for the results, in input order.
        return_errors : bool
            Yield a failed input's :class:`GenrekitError` (or ``OSError``, wrapped) in its
            place and go on; ``False`` raises it.
        **options
            Keyword options of :meth:`predict`.
        """
        for index, source in enumerate(sources):
            name = names[index] if names is not None else None
            try:
                yield self.predict(source, name=name, **options)
            except GenrekitError as error:
                if not return_errors:
                    raise
                yield error
            except OSError as error:
                if not return_errors:
                    raise
                wrapped = GenrekitError(f"{name or _source_name(source)}: {error}")
                wrapped.__cause__ = error
                yield wrapped

    def predict_many(
        self,
        sources: Iterable[AudioSource],
        *,
        names: Sequence[str] | None = None,
        return_errors: bool = False,
        **options: Any,
    ) -> list[Prediction | GenrekitError]:
        """Classify several inputs; see :meth:`iter_predict`. Returns results in input order."""
        return list(self.iter_predict(sources, names=names, return_errors=return_errors, **options))

    def _hop_length(self, hop_s: float | None) -> int:
        if hop_s is None:
            return self.window_length
        if not (isinstance(hop_s, (int, float)) and math.isfinite(hop_s) and hop_s > 0):
            raise InvalidParameterError(f"hop_s must be a finite number of seconds > 0, got {hop_s!r}")
        return max(1, int(round(hop_s * self.sample_rate)))

    def _waveform(self, y: np.ndarray, sr: int | None) -> np.ndarray:
        """A waveform array as mono float32 at the model's rate."""
        if sr is None:
            raise InvalidParameterError("sr (Hz) is required with a waveform array")
        if int(sr) <= 0:
            raise InvalidParameterError(f"sr must be > 0 Hz, got {sr}")
        y = _as_mono_float32(y)
        if int(sr) != self.sample_rate:
            from genrekit.audio import resample

            y = np.ascontiguousarray(resample(y, int(sr), self.sample_rate), dtype=np.float32)
        return y

    def _predict_excerpts(
        self,
        source: str | os.PathLike[str] | bytes | bytearray | memoryview,
        *,
        name: str,
        top_k: int,
        hop_length: int,
        batch_size: int,
        max_duration_s: float | None,
        max_windows: int,
    ) -> tuple[Prediction | None, int | None]:
        """Classify from ``max_windows`` spread windows decoded by seeking, and the song's length
        at the model's rate from its header (an estimate for formats ffmpeg decodes; ``None``
        where unknown). The prediction is ``None`` where the excerpts cannot be read that way
        (short song, unknown length, a format without seeking, excerpts that fail to decode):
        the caller then decodes the whole stream."""
        from genrekit.audio import ExcerptReader
        from genrekit.errors import AudioDecodeError

        length = self.window_length
        with ExcerptReader(source, self.sample_rate, max_duration_s=max_duration_s) as reader:
            n_samples = reader.n_samples
            if n_samples is None and reader.info.duration_s:
                n_samples = int(round(reader.info.duration_s * self.sample_rate))
            if not reader.seekable or reader.n_samples is None:
                return None, n_samples
            starts = spread_starts(n_samples, window_length=length, hop_length=hop_length, max_windows=max_windows)
            if starts is None:
                return None, n_samples
            try:
                windows = np.stack([reader.read(int(s), length) for s in starts])
            except AudioDecodeError:
                return None, n_samples
        acc = _Accumulator()
        acc.sum_squares = float(np.sum(np.square(windows, dtype=np.float64)))
        acc.n_measured = windows.size
        want_tags = top_k > 0 and bool(self.tag_names)
        for first in range(0, len(windows), batch_size):
            batch = [_Window(int(s), length, w) for s, w in zip(starts[first : first + batch_size], windows[first : first + batch_size])]
            self._run_batch(batch, acc, want_tags)
        return self._finalize(acc, n_samples, name=name, top_k=top_k), n_samples

    def _blocks(self, source: AudioSource, max_duration_s: float | None) -> Iterator[np.ndarray]:
        """Mono float32 blocks at the model's rate (an array is already converted by :meth:`_waveform`)."""
        if isinstance(source, np.ndarray):
            return iter([source])
        from genrekit.audio import iter_audio_blocks

        kwargs = {} if max_duration_s is None else {"max_duration_s": max_duration_s}
        blocks = iter_audio_blocks(source, self.sample_rate, block_s=STREAM_BLOCK_S, mono=True, **kwargs)
        return _prefetch(blocks, depth=2) if self.prefetch else blocks

    def _classify_blocks(
        self,
        blocks: Iterator[np.ndarray],
        *,
        slicer: _WindowSlicer,
        name: str,
        top_k: int,
        batch_size: int,
        max_duration_s: float | None,
    ) -> Prediction:
        acc = _Accumulator()
        want_tags = top_k > 0 and bool(self.tag_names)
        max_samples = None if max_duration_s is None else int(math.ceil(max_duration_s * self.sample_rate))
        pending: list[_Window] = []

        def flush() -> None:
            self._run_batch(pending, acc, want_tags)
            pending.clear()

        try:
            for block in blocks:
                block = np.asarray(block, dtype=np.float32)
                if block.ndim != 1:
                    raise InvalidParameterError(f"decoder returned a block of shape {block.shape}, expected mono")
                acc.sum_squares += float(np.dot(block.astype(np.float64), block))
                acc.n_measured += block.size
                for window in slicer.push(block):
                    pending.append(window)
                    if len(pending) >= batch_size:
                        flush()
                if max_samples is not None and slicer.n_samples > max_samples:
                    raise AudioTooLongError(
                        f"{name}: audio is longer than the maximum of {max_duration_s:g} s"
                    )
            for window in slicer.finish():
                pending.append(window)
            if pending:
                flush()
        finally:
            close = getattr(blocks, "close", None)
            if close is not None:
                close()
        if slicer.n_samples == 0:
            raise EmptyAudioError(f"{name}: the audio holds no samples")
        return self._finalize(acc, slicer.n_samples, name=name, top_k=top_k)

    def _run_batch(self, windows: list[_Window], acc: _Accumulator, want_tags: bool) -> None:
        batch = np.stack([w.samples for w in windows]).astype(np.float32, copy=False)
        probs, tags = self._infer(batch, want_tags)
        starts = np.array([w.start for w in windows], dtype=np.int64)
        acc.starts.append(starts)
        acc.ends.append(starts + np.array([w.n_valid for w in windows], dtype=np.int64))
        acc.probs.append(probs)
        acc.levels_db.append(rms_dbfs(batch))
        if self.check_music:
            acc.evidence.append(music_evidence(batch, self.sample_rate))
        for backbone, scores in (tags or {}).items():
            acc.tags.setdefault(backbone, []).append(scores)

    def _infer(self, batch: np.ndarray, want_tags: bool) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        """Genre probabilities (and tag probabilities per backbone) for a batch of windows."""
        model = self.model
        tags: Any = None
        combined: Callable[..., Any] | None = getattr(model, "predict_all_windows", None)
        if want_tags and combined is not None:
            probs, tags = combined(batch)
        else:
            probs = model.predict_proba_windows(batch)
            if want_tags:
                tags = model.predict_tags_windows(batch)
        probs = np.asarray(probs, dtype=np.float32)
        if probs.shape != (batch.shape[0], len(self.labels)):
            raise GenrekitError(
                f"model returned probabilities of shape {probs.shape}, expected {(batch.shape[0], len(self.labels))}"
            )
        if tags is not None and not isinstance(tags, dict):
            tags = {next(iter(self.tag_names)): tags}
        if tags is not None:
            tags = {k: np.asarray(v, dtype=np.float32) for k, v in tags.items() if k in self.tag_names}
        return probs, tags

    def _finalize(self, acc: _Accumulator, n_samples: int, *, name: str, top_k: int) -> Prediction:
        sr = self.sample_rate
        starts = np.concatenate(acc.starts)
        ends = np.concatenate(acc.ends)
        probs = np.concatenate(acc.probs)
        levels = np.concatenate(acc.levels_db)
        duration_s = n_samples / sr
        track_db = 10.0 * math.log10(max(acc.sum_squares / max(acc.n_measured, 1), 1e-20))
        warnings: list[str] = []
        if track_db < self.silence_dbfs:
            warnings.append(WARNING_SILENT)
        if n_samples < self.window_length:
            warnings.append(WARNING_SHORT)
        voting = levels >= self.silence_dbfs
        weights = voting.astype(np.float64) if voting.any() else None
        track = aggregate_probabilities(probs, weights=weights, method=self.aggregation)
        if self.check_music and WARNING_SILENT not in warnings:
            evidence = np.concatenate(acc.evidence)
            if not is_music(evidence[voting] if voting.any() else evidence):
                warnings.append(WARNING_NOT_MUSIC)
        order = np.argsort(-track, kind="stable")
        genres = [GenreScore(genre=self.labels[i], score=float(track[i])) for i in order]
        best = probs.argmax(axis=1)
        segments = [
            Segment(
                start_s=round(float(s) / sr, 3),
                end_s=round(float(e) / sr, 3),
                genre=self.labels[int(b)],
                score=float(p[b]),
            )
            for s, e, b, p in zip(starts, ends, best, probs)
        ]
        tags: list[TagScore] = []
        if top_k > 0 and acc.tags:
            w = voting.astype(np.float64) if voting.any() else np.ones(len(levels))
            w /= w.sum()
            track_tags = {k: w @ np.concatenate(v).astype(np.float64) for k, v in acc.tags.items()}
            merged = merge_tag_scores(track_tags, self.tag_names)
            ranked = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
            tags = [TagScore(tag=t, score=float(s)) for t, s in ranked]
        return Prediction(
            name=name,
            duration_s=round(duration_s, 3),
            model=self.model_info,
            genres=genres,
            segments=segments,
            tags=tags,
            warnings=warnings,
        )
