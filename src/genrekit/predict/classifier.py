"""Bundle + waveform -> :class:`Prediction`: whole-song inference (see :mod:`genrekit.predict`).

:class:`Classifier` is a small facade over three seams: loading (:mod:`genrekit.predict.loading`),
the excerpt stream that decodes an input and cuts its windows (:mod:`genrekit.predict.excerpts`),
and aggregation into the song's answer (:mod:`genrekit.predict.aggregate`), with the model step
(:mod:`genrekit.predict.inference`) between the last two. Every entry point runs them in that
order: :meth:`Classifier.predict` streams the windows through the model as they are decoded;
:meth:`Classifier.prepare` stops before the model, and :meth:`Classifier.predict_prepared`
runs it on many songs' windows at once; :meth:`Classifier.classify_windows` gathers one part
of a song for :meth:`Classifier.summarize`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from genrekit.bundle.embedding import EmbeddingSpec, embedding_spec
from genrekit.errors import GenrekitError, InvalidParameterError
from genrekit.predict.aggregate import AGGREGATIONS, WindowResults, song_answer
from genrekit.predict.checks import SILENCE_DBFS
from genrekit.predict.excerpts import ExcerptStream, SongWindows, check_max_windows, source_name
from genrekit.predict.inference import WINDOWS, ModelOutputs, ModelStep, tag_vocabularies
from genrekit.predict.loading import load_model
from genrekit.predict.schema import AudioSource, ModelInfo, Prediction
from genrekit.predict.tag_groups import check_tag_table, default_tag_table
from genrekit.predict.uncertainty import uncertainty_thresholds

if TYPE_CHECKING:
    from genrekit.bundle.card import ModelCard
    from genrekit.models.base import WaveformClassifier

DEFAULT_TOP_K = 10  # tags returned per prediction
DEFAULT_BATCH_SIZE = 8  # windows per forward pass (~1 GB peak RSS with the default model; 16: more, no faster)


@dataclass(frozen=True)
class _SongOptions:
    """The options of one song's classification: :meth:`Classifier.predict`'s, which documents them."""

    sr: int | None = None  # Hz, of an array source
    name: str | None = None
    top_k: int = DEFAULT_TOP_K
    hop_s: float | None = None  # seconds
    batch_size: int | None = None  # windows
    max_duration_s: float | None = None  # seconds
    max_windows: int | None = None
    embed: bool = False


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
    acc: WindowResults

    @property
    def n_windows(self) -> int:
        """Windows to run through the model."""
        return int(self.inputs.shape[0])

    @property
    def nbytes(self) -> int:
        """Size of the model inputs (bytes)."""
        return int(self.inputs.nbytes)


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
        self.max_windows = check_max_windows(max_windows)
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
        self.tag_names: dict[str, list[str]] = tag_vocabularies(model)
        self.uncertainty_thresholds = uncertainty_thresholds(card.config if card is not None else None)
        card_table = (card.config if card is not None else {}).get("tag_groups")
        self.tag_table = check_tag_table(card_table) if card_table else default_tag_table()
        self.embedding: EmbeddingSpec | None = (
            embedding_spec(card.config) if card is not None else getattr(model, "embedding", None)
        )
        self._excerpts = ExcerptStream(self.sample_rate, self.window_length)
        self._step = ModelStep(
            model, labels=self.labels, tag_names=self.tag_names, embedding=self.embedding,
            model_name=self.model_info.name,
        )

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
        card, model = load_model(bundle, runtime=runtime, threads=threads, device=device)
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
        options = _SongOptions(sr=sr, name=name, top_k=top_k, hop_s=hop_s, batch_size=batch_size,
                               max_duration_s=max_duration_s, max_windows=max_windows, embed=embed)
        song = self._song(source, options)
        acc = self._gather(WindowResults(embed=bool(embed)), song, top_k=int(top_k))
        return song_answer(acc, song.n_samples, name=song.name, top_k=int(top_k), complete=song.complete, rules=self)

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
        self._check_embed(embed)
        size = self._batch_size(batch_size)
        part = self._excerpts.part(self._excerpts.waveform(y, sr), first_s=first_s, last_s=last_s, batch_size=size)
        return self._gather(WindowResults(embed=bool(embed)), part, top_k=int(top_k))

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
        return song_answer(windows, int(n_samples), name=name, top_k=int(top_k), complete=bool(complete), rules=self)

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
                wrapped = GenrekitError(f"{name or source_name(source)}: {error}")
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

    def prepare(self, source: AudioSource, **options: Any) -> PreparedSong:
        """Decode and window one song as :meth:`predict` does, stopping before the model runs.

        Takes :meth:`predict`'s arguments (``batch_size`` only groups the decoding). The
        result goes to :meth:`predict_prepared`; the two together give :meth:`predict`'s
        prediction. Raises what :meth:`predict` raises for bad input.
        """
        chosen = _SongOptions(**options)
        song = self._song(source, chosen)
        acc = WindowResults(embed=bool(chosen.embed))
        inputs = [
            self._step.inputs(acc.add_windows(windows, sample_rate=self.sample_rate, check_music=self.check_music))
            for windows in song.batches
        ]
        acc.sum_squares, acc.n_measured = song.sum_squares, song.n_measured
        return PreparedSong(
            name=song.name, n_samples=song.n_samples, complete=song.complete,
            top_k=int(chosen.top_k), kind=self._step.kind, acc=acc,
            inputs=np.concatenate(inputs) if inputs else np.zeros((0, self.window_length), np.float32),
        )

    def predict_prepared(self, songs: Sequence[PreparedSong], *, batch_size: int | None = None) -> list[Prediction]:
        """Predictions of prepared songs, the model run on all their windows in batches of
        ``batch_size`` windows (default: the classifier's) across songs. In ``songs``' order."""
        size = self._batch_size(batch_size)
        if not songs:
            return []
        if len({(song.kind, song.acc.embed, song.top_k > 0) for song in songs}) > 1:
            raise InvalidParameterError("prepared songs of one call must share their options (embed, top_k)")
        first = songs[0]
        want_tags = first.top_k > 0 and bool(self.tag_names)
        inputs = np.concatenate([song.inputs for song in songs])
        outputs = ModelOutputs.concatenate([
            self._step.run(inputs[i : i + size], first.kind, want_tags=want_tags, embed=first.acc.embed)
            for i in range(0, len(inputs), size)
        ])
        predictions: list[Prediction] = []
        offset = 0
        for song in songs:
            song.acc.set_outputs(outputs.rows(slice(offset, offset + song.n_windows)))
            offset += song.n_windows
            predictions.append(song_answer(song.acc, song.n_samples, name=song.name, top_k=song.top_k,
                                           complete=song.complete, rules=self))
        return predictions

    def _batch_size(self, batch_size: int | None) -> int:
        """Windows per forward pass: ``batch_size`` (>= 1), or the classifier's where ``None``."""
        size = self.batch_size if batch_size is None else int(batch_size)
        if size < 1:
            raise InvalidParameterError(f"batch_size must be >= 1, got {batch_size}")
        return size

    def _check_embed(self, embed: bool) -> None:
        """Refuse ``embed=True`` for a model whose card declares no embedding."""
        if embed and self.embedding is None:
            raise InvalidParameterError(f"model {self.model_info.name!r} has no embedding (its card declares none)")

    def _song(self, source: AudioSource, options: _SongOptions) -> SongWindows:
        """The options checked, and the windows of the input (the excerpt stream)."""
        if int(options.top_k) < 0:
            raise InvalidParameterError(f"top_k must be >= 0, got {options.top_k}")
        hop_length = self._excerpts.hop_length(options.hop_s)
        size = self._batch_size(options.batch_size)
        max_duration_s = options.max_duration_s
        if max_duration_s is not None and not max_duration_s > 0:
            raise InvalidParameterError(f"max_duration_s must be > 0 or None, got {max_duration_s}")
        self._check_embed(options.embed)
        max_windows = self.max_windows if options.max_windows is None else check_max_windows(options.max_windows)
        return self._excerpts.song(
            source, sr=options.sr, name=source_name(source) if options.name is None else options.name,
            hop_length=hop_length, batch_size=size, max_duration_s=max_duration_s, max_windows=max_windows,
            prefetch_blocks=self.prefetch,
        )

    def _gather(self, acc: WindowResults, song: SongWindows, *, top_k: int) -> WindowResults:
        """Run the model on the song's windows as they come, gathering them and the song's
        measured power into ``acc``."""
        want_tags = top_k > 0 and bool(self.tag_names)
        for windows in song.batches:
            batch = acc.add_windows(windows, sample_rate=self.sample_rate, check_music=self.check_music)
            acc.add_outputs(self._step.run(batch, WINDOWS, want_tags=want_tags, embed=acc.embed))
        acc.sum_squares, acc.n_measured = song.sum_squares, song.n_measured
        return acc
