"""Bundle + waveform -> :class:`Prediction`: whole-song inference (see :mod:`genrekit.predict`)."""

from __future__ import annotations

import math
import os
import queue
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from genrekit.bundle.embedding import EmbeddingSpec, embedding_spec
from genrekit.errors import (
    AudioTooLongError,
    BundleError,
    EmptyAudioError,
    GenrekitError,
    InvalidParameterError,
)
from genrekit.predict.aggregate import AGGREGATIONS, aggregate_probabilities, merge_tag_scores
from genrekit.predict.checks import (
    SILENCE_DBFS,
    WARNING_NOT_MUSIC,
    WARNING_SHORT,
    WARNING_SILENT,
    is_music,
    music_evidence,
    rms_dbfs,
)
from genrekit.predict.embedding import as_json_vector, as_json_vectors, track_embedding
from genrekit.predict.schema import AudioSource, GenreScore, ModelInfo, Prediction, Segment, TagGroup, TagScore
from genrekit.predict.tag_groups import check_tag_table, default_tag_table, group_tags
from genrekit.predict.uncertainty import assess_uncertainty, uncertainty_thresholds
from genrekit.audio.windows import _Window, _WindowSlicer, spread_starts

if TYPE_CHECKING:
    from genrekit.bundle.card import ModelCard
    from genrekit.models.base import WaveformClassifier

DEFAULT_TOP_K = 10  # tags returned per prediction
DEFAULT_BATCH_SIZE = 8  # windows per forward pass (~1 GB peak RSS with the default model; 16: more, no faster)
STREAM_BLOCK_S = 30.0  # seconds of audio decoded per block
RUNTIMES = ("auto", "onnx", "torch")


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
class WindowResults:
    """Per-window results of one input, gathered batch by batch (see :meth:`Classifier.summarize`).

    Window starts and ends are in samples at the model's rate, on the song's time axis.
    ``sum_squares`` and ``n_measured`` give the input's mean power (its silence check).
    """

    starts: list[np.ndarray] = field(default_factory=list)
    ends: list[np.ndarray] = field(default_factory=list)
    probs: list[np.ndarray] = field(default_factory=list)
    levels_db: list[np.ndarray] = field(default_factory=list)
    evidence: list[np.ndarray] = field(default_factory=list)
    tags: dict[str, list[np.ndarray]] = field(default_factory=dict)
    embed: bool = False  # also gather each window's embedding
    embeddings: list[np.ndarray] = field(default_factory=list)
    ood_logits: list[np.ndarray] = field(default_factory=list)
    sum_squares: float = 0.0
    n_measured: int = 0  # samples whose squares are in sum_squares
    deferred: list[np.ndarray] = field(default_factory=list)  # model inputs kept for later (Classifier.prepare)

    @property
    def n_windows(self) -> int:
        """Windows gathered so far."""
        return int(sum(len(s) for s in self.starts))

    def extend(self, other: WindowResults) -> None:
        """Add ``other``'s windows (a later part of the same input, gathered alike) after these."""
        if other.embed != self.embed:
            raise InvalidParameterError("window results with and without embeddings cannot be merged")
        for name in ("starts", "ends", "probs", "levels_db", "evidence", "embeddings", "ood_logits"):
            getattr(self, name).extend(getattr(other, name))
        for backbone, scores in other.tags.items():
            self.tags.setdefault(backbone, []).extend(scores)
        self.sum_squares += other.sum_squares
        self.n_measured += other.n_measured


def window_shares(top: np.ndarray, voting: np.ndarray, n_labels: int) -> np.ndarray:
    """Each label's share (0..1) of the windows whose top genre it is.

    Parameters
    ----------
    top : np.ndarray [shape=(n_windows,), dtype=int]
        Each window's top label (index).
    voting : np.ndarray [shape=(n_windows,), dtype=bool]
        The windows that count (above the silence level); where none does, all count.
    n_labels : int
        Number of labels.
    """
    counted = top[voting] if voting.any() else top
    return np.bincount(counted, minlength=n_labels).astype(np.float64) / max(counted.size, 1)


@dataclass
class PreparedSong:
    """One song decoded and windowed, its model inputs ready for batched inference.

    Made by :meth:`Classifier.prepare` (e.g. in a decoding process) and turned into the
    :class:`Prediction` :meth:`Classifier.predict` would give by :meth:`Classifier.predict_prepared`,
    which runs the model on many songs' windows at once. ``inputs`` are the model's patches
    (``(n_windows, 187, 96)`` float32 for musicnn models) or the raw windows
    (``(n_windows, samples)``) for models without a patch stage (``kind``).
    """

    name: str
    n_samples: int
    complete: bool
    top_k: int
    inputs: np.ndarray
    kind: str  # "patches" or "windows"
    acc: _Accumulator

    @property
    def n_windows(self) -> int:
        """Windows to run through the model."""
        return int(self.inputs.shape[0])

    @property
    def nbytes(self) -> int:
        """Size of the model inputs (bytes)."""
        return int(self.inputs.nbytes)


class _WindowsReady(Exception):  # noqa: N818 - not an error: ends Classifier.predict early in Classifier.prepare
    """Raised by :meth:`Classifier._finalize` while preparing: the song's windows are all gathered."""

    def __init__(self, song: PreparedSong) -> None:
        super().__init__(song.name)
        self.song = song


def _load_model(
    bundle: str | os.PathLike[str] | None, runtime: str, threads: int | None, device: str | None = None
) -> tuple[ModelCard, Any]:
    """The card and the model that runs it (see :meth:`Classifier.load`)."""
    from genrekit.bundle.io import read_card
    from genrekit.models.onnx_runtime import execution_providers, has_onnx_graph, load_onnx_bundle
    from genrekit.settings import check_device
    from genrekit.settings import device as default_device

    device = check_device(device) if device is not None else default_device()
    if device != "cpu":
        execution_providers(device)  # a clear error before anything is loaded
        if runtime == "torch":
            raise InvalidParameterError(f"device {device!r} runs ONNX graphs only, not runtime 'torch'")
    card = read_card(bundle)
    if runtime != "torch" and has_onnx_graph(card):
        return card, load_onnx_bundle(bundle, card, n_threads=threads, device=device)
    if device != "cpu":
        raise BundleError(f"device {device!r} needs a bundle that ships its ONNX graph; {card.name} has none")
    try:
        from genrekit.models.registry import load_model
    except ImportError as error:
        raise BundleError(
            f"bundle {card.name} ships no ONNX graph, so it runs on PyTorch, which is not installed "
            f"({error}); install it with: pip install 'genrekit[train]'"
        ) from error
    card, model = load_model(bundle)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    if runtime == "torch":
        return card, model
    return card, _torch_to_onnx_runtime(model, card, required=runtime == "onnx", threads=threads)


def _torch_to_onnx_runtime(model: Any, card: ModelCard, *, required: bool, threads: int | None) -> Any:
    """A graph-less bundle's model on ONNX Runtime where possible (exported once to the cache)."""
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
        return onnx_export.to_onnx_runtime(model, card, n_threads=threads)
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
        self.uncertainty_thresholds = uncertainty_thresholds(card.config if card is not None else None)
        card_table = (card.config if card is not None else {}).get("tag_groups")
        self.tag_table = check_tag_table(card_table) if card_table else default_tag_table()
        self.embedding: EmbeddingSpec | None = (
            embedding_spec(card.config) if card is not None else getattr(model, "embedding", None)
        )
        self._preparing = threading.local()

    @classmethod
    def load(
        cls,
        bundle: str | os.PathLike[str] | None = None,
        *,
        runtime: str = "auto",
        threads: int | None = None,
        device: str | None = None,
        **kwargs: Any,
    ) -> Classifier:
        """Load a bundle (``None``: the default model shipped with genrekit).

        Parameters
        ----------
        bundle : path or None
            Bundle directory.
        runtime : {"auto", "onnx", "torch"}
            ``"auto"`` and ``"onnx"`` run a bundle that ships its ONNX graph (``model.onnx``,
            checked against the card's SHA-256; every ``musicnn_head`` bundle saved by
            genrekit does) with ONNX Runtime and the musicnn input in NumPy: no torch is
            imported. A bundle without a graph runs on PyTorch (``"auto"``: exported to an
            ONNX graph in the cache once where possible, falling back to PyTorch with a
            warning; ``"onnx"``: the export must work). ``"torch"`` always runs PyTorch
            (needs ``genrekit[train]``).
        threads : int >= 1 or None
            CPU threads of inference (ONNX Runtime's intra-op threads, or torch's);
            ``None``: :func:`genrekit.settings.inference_threads` (``GENREKIT_THREADS`` or
            every CPU available).
        device : {"cpu", "cuda"} or None
            Where the ONNX graph runs (``cuda``: ONNX Runtime's CUDA provider from
            ``genrekit[gpu]``; a clear error where it is missing); ``None``:
            :func:`genrekit.settings.device` (``GENREKIT_DEVICE``, default ``cpu``).
        **kwargs
            Options of :class:`Classifier` (``batch_size``, ``aggregation``, ...).

        Raises
        ------
        BundleError
            The bundle is missing, corrupt or of an unknown model type, or ``runtime="onnx"``
            cannot be honoured.
        """
        if runtime not in RUNTIMES:
            raise InvalidParameterError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise InvalidParameterError(f"threads must be an int >= 1 or None, got {threads!r}")
        card, model = _load_model(bundle, runtime, threads, device)
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
        embed: bool = False,
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
        embed : bool
            Also fill ``embedding`` (the track's L2-normalised vector in the model's
            :attr:`embedding` space) and ``segment_embeddings`` (one unit vector per segment).
            Raises ``InvalidParameterError`` where the model has no embedding.

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
        if embed and self.embedding is None:
            raise InvalidParameterError(f"model {self.model_info.name!r} has no embedding (its card declares none)")
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
                    max_duration_s=max_duration_s, max_windows=n_windows, embed=bool(embed),
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
            blocks, slicer=slicer, name=label, top_k=int(top_k), batch_size=size, max_duration_s=max_duration_s,
            embed=bool(embed),
        )

    def classify_windows(
        self,
        y: np.ndarray,
        *,
        sr: int,
        first_s: float = 0.0,
        last_s: float | None = None,
        top_k: int = DEFAULT_TOP_K,
        batch_size: int | None = None,
        embed: bool = False,
    ) -> WindowResults:
        """Classify the windows of a waveform that start in ``[first_s, last_s)``, for a
        whole-song answer built step by step (see :meth:`summarize`).

        The windows are those of ``predict(y, sr=sr, max_windows=0)`` (every window, no
        overlap, an end-aligned closing one), so the parts of one song, gathered with
        :meth:`WindowResults.extend` and summarised, give exactly that prediction.

        Parameters
        ----------
        y : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]
            The whole song.
        sr : int
            Its sample rate (Hz); at the model's rate nothing is resampled.
        first_s, last_s : float
            The part classified (seconds; ``last_s=None``: to the end). Its samples count
            toward the silence check.
        top_k : int >= 0
            0 skips the tags.
        batch_size : int >= 1 or None
            Windows per forward pass; ``None`` keeps the classifier's.
        embed : bool
            Also gather the window embeddings.
        """
        if embed and self.embedding is None:
            raise InvalidParameterError(f"model {self.model_info.name!r} has no embedding (its card declares none)")
        size = self.batch_size if batch_size is None else int(batch_size)
        if size < 1:
            raise InvalidParameterError(f"batch_size must be >= 1, got {batch_size}")
        y = self._waveform(y, sr)
        first = max(0, int(round(float(first_s) * self.sample_rate)))
        last = len(y) if last_s is None else min(len(y), int(round(float(last_s) * self.sample_rate)))
        acc = WindowResults(embed=bool(embed))
        part = y[first:last].astype(np.float64)
        acc.sum_squares = float(np.dot(part, part))
        acc.n_measured = int(part.size)
        slicer = _WindowSlicer(self.window_length, self.window_length)
        chosen = [w for w in (*slicer.push(y), *slicer.finish()) if first <= w.start < last]
        want_tags = int(top_k) > 0 and bool(self.tag_names)
        for start in range(0, len(chosen), size):
            self._run_batch(chosen[start : start + size], acc, want_tags)
        return acc

    def summarize(
        self, windows: WindowResults, *, n_samples: int, name: str, top_k: int = DEFAULT_TOP_K, complete: bool = True
    ) -> Prediction:
        """The prediction of gathered windows, by the same rules as :meth:`predict`
        (aggregation, silence and music checks, uncertainty, tags, window shares).

        Parameters
        ----------
        windows : WindowResults
            From :meth:`classify_windows` (parts joined with :meth:`WindowResults.extend`).
        n_samples : int
            Length of the input at the model's rate (samples).
        name : str
            Name put in the result.
        top_k : int >= 0
            Number of tags returned.
        complete : bool
            Whether the windows cover the whole input.
        """
        if windows.n_windows == 0:
            raise InvalidParameterError("no windows to summarise")
        return self._finalize(windows, int(n_samples), name=name, top_k=int(top_k), complete=bool(complete))

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
        embed: bool = False,
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
        acc = WindowResults(embed=embed)
        acc.sum_squares = float(np.sum(np.square(windows, dtype=np.float64)))
        acc.n_measured = windows.size
        want_tags = top_k > 0 and bool(self.tag_names)
        for first in range(0, len(windows), batch_size):
            batch = [_Window(int(s), length, w) for s, w in zip(starts[first : first + batch_size], windows[first : first + batch_size])]
            self._run_batch(batch, acc, want_tags)
        return self._finalize(acc, n_samples, name=name, top_k=top_k, complete=False), n_samples

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
        embed: bool = False,
    ) -> Prediction:
        acc = WindowResults(embed=embed)
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
        return self._finalize(acc, slicer.n_samples, name=name, top_k=top_k, complete=slicer.complete)

    def _run_batch(self, windows: list[_Window], acc: WindowResults, want_tags: bool) -> None:
        batch = np.stack([w.samples for w in windows]).astype(np.float32, copy=False)
        if getattr(self._preparing, "active", False):
            self._defer_batch(batch, windows, acc)
            return
        if acc.embed:
            probs, tags, vectors, ood = self._infer_with_embedding(batch)
            acc.embeddings.append(vectors)
        else:
            probs, tags, ood = self._infer(batch, want_tags)
        if ood is not None:
            acc.ood_logits.append(ood)
        starts = np.array([w.start for w in windows], dtype=np.int64)
        acc.starts.append(starts)
        acc.ends.append(starts + np.array([w.n_valid for w in windows], dtype=np.int64))
        acc.probs.append(probs)
        acc.levels_db.append(rms_dbfs(batch))
        if self.check_music:
            acc.evidence.append(music_evidence(batch, self.sample_rate))
        for backbone, scores in (tags or {}).items():
            acc.tags.setdefault(backbone, []).append(scores)

    def _infer(
        self, batch: np.ndarray, want_tags: bool
    ) -> tuple[np.ndarray, dict[str, np.ndarray] | None, np.ndarray | None]:
        """Genre probabilities (and tag probabilities per backbone, and the out-of-taxonomy
        logit of each window where the model has one) for a batch of windows."""
        model = self.model
        tags: Any = None
        ood: np.ndarray | None = None
        combined: Callable[..., Any] | None = getattr(model, "predict_all_windows", None)
        with_ood: Callable[..., Any] | None = getattr(model, "predict_outputs_windows", None)
        if with_ood is not None:
            probs, tags, ood = with_ood(batch)
            if not want_tags:
                tags = None
        elif want_tags and combined is not None:
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
        return probs, tags, None if ood is None else np.asarray(ood, dtype=np.float64).reshape(-1)

    def _infer_with_embedding(
        self, batch: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
        """Genre and tag probabilities, window embeddings ``(batch, dim)`` and, where the model
        has one, each window's out-of-taxonomy logit, in one pass."""
        with_ood: Callable[..., Any] | None = getattr(self.model, "embed_outputs_windows", None)
        embed_windows: Callable[..., Any] | None = getattr(self.model, "embed_all_windows", None)
        if (with_ood is None and embed_windows is None) or self.embedding is None:
            raise InvalidParameterError(f"model {self.model_info.name!r} has no embedding")
        ood: Any = None
        if with_ood is not None:
            probs, tags, vectors, ood = with_ood(batch)
        else:
            probs, tags, vectors = embed_windows(batch)  # type: ignore[misc]
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (batch.shape[0], self.embedding.dim):
            raise GenrekitError(f"model returned embeddings of shape {vectors.shape}, expected {(batch.shape[0], self.embedding.dim)}")
        probs = np.asarray(probs, dtype=np.float32)
        tags = {k: np.asarray(v, dtype=np.float32) for k, v in tags.items() if k in self.tag_names}
        return probs, tags, vectors, None if ood is None else np.asarray(ood, dtype=np.float64).reshape(-1)

    def _defer_batch(self, batch: np.ndarray, windows: list[_Window], acc: _Accumulator) -> None:
        """:meth:`_run_batch` while preparing: keep the model inputs and the window statistics."""
        to_patches: Callable[..., Any] | None = getattr(self.model, "window_patches", None)
        acc.deferred.append(batch if to_patches is None else np.asarray(to_patches(batch), dtype=np.float32))
        starts = np.array([w.start for w in windows], dtype=np.int64)
        acc.starts.append(starts)
        acc.ends.append(starts + np.array([w.n_valid for w in windows], dtype=np.int64))
        acc.levels_db.append(rms_dbfs(batch))
        if self.check_music:
            acc.evidence.append(music_evidence(batch, self.sample_rate))

    def prepare(self, source: AudioSource, **options: Any) -> PreparedSong:
        """Decode and window one song as :meth:`predict` does, stopping before the model runs.

        Takes :meth:`predict`'s arguments (``batch_size`` only groups the decoding). The
        result goes to :meth:`predict_prepared`; the two together give :meth:`predict`'s
        prediction. Raises what :meth:`predict` raises for bad input.
        """
        self._preparing.active = True
        try:
            self.predict(source, **options)
        except _WindowsReady as ready:
            return ready.song
        finally:
            self._preparing.active = False
        raise GenrekitError("the song's windows were not gathered")  # predict always ends in _finalize

    def predict_prepared(self, songs: Sequence[PreparedSong], *, batch_size: int | None = None) -> list[Prediction]:
        """Predictions of prepared songs, the model run on all their windows in batches of
        ``batch_size`` windows (default: the classifier's) across songs. In ``songs``' order."""
        size = self.batch_size if batch_size is None else int(batch_size)
        if size < 1:
            raise InvalidParameterError(f"batch_size must be >= 1, got {batch_size}")
        if not songs:
            return []
        if len({(song.kind, song.acc.embed, song.top_k > 0) for song in songs}) > 1:
            raise InvalidParameterError("prepared songs of one call must share their options (embed, top_k)")
        first = songs[0]
        want_tags = first.top_k > 0 and bool(self.tag_names)
        inputs = np.concatenate([song.inputs for song in songs])
        parts = [self._infer_inputs(inputs[i : i + size], first.kind, want_tags, first.acc.embed)
                 for i in range(0, len(inputs), size)]
        probs = np.concatenate([part[0] for part in parts])
        ood = None if parts[0][1] is None else np.concatenate([part[1] for part in parts])  # type: ignore[misc]
        vectors = None if parts[0][2] is None else np.concatenate([part[2] for part in parts])  # type: ignore[misc]
        tags = None if parts[0][3] is None else {
            name: np.concatenate([part[3][name] for part in parts]) for name in parts[0][3]  # type: ignore[index]
        }
        predictions: list[Prediction] = []
        offset = 0
        for song in songs:
            rows = slice(offset, offset + song.n_windows)
            offset += song.n_windows
            acc = song.acc
            acc.probs = [probs[rows]]
            acc.ood_logits = [] if ood is None else [ood[rows]]
            acc.embeddings = [] if vectors is None else [vectors[rows]]
            acc.tags = {} if tags is None else {name: [values[rows]] for name, values in tags.items()}
            predictions.append(self._finalize(acc, song.n_samples, name=song.name, top_k=song.top_k,
                                              complete=song.complete))
        return predictions

    def _infer_inputs(
        self, inputs: np.ndarray, kind: str, want_tags: bool, embed: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, dict[str, np.ndarray] | None]:
        """``(probs, ood logits, embeddings, tags)`` of prepared model inputs (patches or windows),
        post-processed as :meth:`_infer` and :meth:`_infer_with_embedding` do."""
        if kind == "windows":
            if embed:
                probs, tags, vectors, ood = self._infer_with_embedding(inputs)
                return probs, ood, vectors, tags
            probs, window_tags, ood = self._infer(inputs, want_tags)
            return probs, ood, None, window_tags
        model: Any = self.model
        vectors: np.ndarray | None = None
        if embed:
            probs, tags, vectors, ood = model.embed_outputs_patches(inputs)
            vectors = np.asarray(vectors, dtype=np.float32)
        else:
            probs, tags, ood = model.predict_outputs_patches(inputs)
        kept = {k: np.asarray(v, dtype=np.float32) for k, v in tags.items() if k in self.tag_names}
        ood = None if ood is None else np.asarray(ood, dtype=np.float64).reshape(-1)
        return np.asarray(probs, dtype=np.float32), ood, vectors, kept if (want_tags or embed) else None

    def _finalize(
        self, acc: WindowResults, n_samples: int, *, name: str, top_k: int, complete: bool
    ) -> Prediction:
        if getattr(self._preparing, "active", False):
            inputs = np.concatenate(acc.deferred) if acc.deferred else np.zeros((0, self.window_length), np.float32)
            kind = "windows" if getattr(self.model, "window_patches", None) is None else "patches"
            acc.deferred = []
            raise _WindowsReady(PreparedSong(name=name, n_samples=n_samples, complete=complete, top_k=top_k,
                                             inputs=inputs, kind=kind, acc=acc))
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
            if not is_music(evidence[voting] if voting.any() else evidence, top_score=float(track.max())):
                warnings.append(WARNING_NOT_MUSIC)
        ood_score = None
        if acc.ood_logits:
            window_ood = np.concatenate(acc.ood_logits)
            mean_logit = float(np.average(window_ood, weights=weights))
            ood_score = 1.0 / (1.0 + math.exp(-max(min(mean_logit, 50.0), -50.0)))
        uncertainty = assess_uncertainty(
            track,
            thresholds=self.uncertainty_thresholds,
            ood_score=ood_score,
            not_music=WARNING_SILENT in warnings or WARNING_NOT_MUSIC in warnings,
            labels=self.labels,
        )
        order = np.argsort(-track, kind="stable")
        genres = [GenreScore(genre=self.labels[i], score=float(track[i])) for i in order]
        ranked_windows = np.argsort(-probs, axis=1, kind="stable")
        shares = window_shares(ranked_windows[:, 0], voting, len(self.labels))
        segments = [
            Segment(
                start_s=round(float(s) / sr, 3),
                end_s=round(float(e) / sr, 3),
                genre=self.labels[int(r[0])],
                score=float(p[r[0]]),
                runner_up=GenreScore(self.labels[int(r[1])], float(p[r[1]])) if len(r) > 1 else None,
            )
            for s, e, r, p in zip(starts, ends, ranked_windows, probs)
        ]
        tags: list[TagScore] = []
        tag_groups: list[TagGroup] = []
        if top_k > 0 and acc.tags:
            w = voting.astype(np.float64) if voting.any() else np.ones(len(levels))
            w /= w.sum()
            track_tags = {k: w @ np.concatenate(v).astype(np.float64) for k, v in acc.tags.items()}
            merged = merge_tag_scores(track_tags, self.tag_names)
            ranked = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
            tags = [TagScore(tag=t, score=float(s)) for t, s in ranked]
            tag_groups = group_tags(merged, self.tag_table)
        embedding = segment_embeddings = None
        if acc.embeddings:
            vectors = np.concatenate(acc.embeddings)
            embedding = as_json_vector(track_embedding(vectors, weights))
            segment_embeddings = as_json_vectors(vectors)
        return Prediction(
            name=name,
            duration_s=round(duration_s, 3),
            model=self.model_info,
            genres=genres,
            segments=segments,
            tags=tags,
            tag_groups=tag_groups,
            warnings=warnings,
            uncertainty=uncertainty,
            complete=complete,
            embedding=embedding,
            segment_embeddings=segment_embeddings,
            shares=[GenreScore(genre=self.labels[i], score=float(shares[i])) for i in order],
        )
