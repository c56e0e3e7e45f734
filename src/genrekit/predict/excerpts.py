"""Input -> windows: the decode-and-window step of :class:`~genrekit.predict.Classifier`.

:class:`ExcerptStream` turns what :meth:`Classifier.predict` accepts (a path, bytes, a file
object, or a waveform with its rate) into a :class:`SongWindows`: batches of analysis windows
at the model's rate, cut lazily as the audio is decoded (in :data:`STREAM_BLOCK_S` blocks,
the next block decoded in a background thread), or read by seeking where only a few spread
windows are wanted. It measures the input's power for the silence check on the way. Nothing
here runs the model.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genrekit.audio.windows import _Window, _WindowSlicer, spread_starts
from genrekit.errors import AudioTooLongError, EmptyAudioError, InvalidParameterError
from genrekit.predict.schema import AudioSource

STREAM_BLOCK_S = 30.0  # seconds of audio decoded per block
PREFETCH_DEPTH = 2  # blocks decoded ahead of the model


def prefetch(iterator: Iterator[Any], depth: int) -> Iterator[Any]:
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


def as_mono_float32(y: np.ndarray) -> np.ndarray:
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


def check_max_windows(value: Any) -> int:
    """``value`` as a window budget (int >= 0; 0: every window), else ``InvalidParameterError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InvalidParameterError(f"max_windows must be an int >= 0 (0: every window), got {value!r}")
    return int(value)


def source_name(source: Any) -> str:
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
class SongWindows:
    """One input cut into analysis windows, the decode-and-window step's answer.

    ``batches`` yields lists of at most the batch size of windows, lazily: a streamed input
    is decoded as they are read. ``n_samples`` (the input's length at the model's rate),
    ``complete`` (whether the windows cover it all, no gaps) and the measured power
    (``sum_squares`` over ``n_measured`` samples) are final once ``batches`` is exhausted.
    """

    name: str
    batches: Iterator[list[_Window]] = field(default_factory=lambda: iter(()))
    n_samples: int = 0
    complete: bool = True
    sum_squares: float = 0.0
    n_measured: int = 0


def _in_batches(windows: Sequence[_Window], batch_size: int) -> Iterator[list[_Window]]:
    for first in range(0, len(windows), batch_size):
        yield list(windows[first : first + batch_size])


class ExcerptStream:
    """The windows of songs at one model's rate and window length.

    Parameters
    ----------
    sample_rate : int
        The model's rate (Hz); inputs are resampled to it.
    window_length : int
        Samples per analysis window.
    """

    def __init__(self, sample_rate: int, window_length: int) -> None:
        self.sample_rate = int(sample_rate)
        self.window_length = int(window_length)

    def hop_length(self, hop_s: float | None) -> int:
        """Samples between window starts for ``hop_s`` seconds (``None``: one window, no overlap)."""
        if hop_s is None:
            return self.window_length
        if not (isinstance(hop_s, (int, float)) and math.isfinite(hop_s) and hop_s > 0):
            raise InvalidParameterError(f"hop_s must be a finite number of seconds > 0, got {hop_s!r}")
        return max(1, int(round(hop_s * self.sample_rate)))

    def waveform(self, y: np.ndarray, sr: int | None) -> np.ndarray:
        """A waveform array as mono float32 at the model's rate (``sr``: its rate in Hz)."""
        if sr is None:
            raise InvalidParameterError("sr (Hz) is required with a waveform array")
        if int(sr) <= 0:
            raise InvalidParameterError(f"sr must be > 0 Hz, got {sr}")
        y = as_mono_float32(y)
        if int(sr) != self.sample_rate:
            from genrekit.audio import resample

            y = np.ascontiguousarray(resample(y, int(sr), self.sample_rate), dtype=np.float32)
        return y

    def song(
        self,
        source: AudioSource,
        *,
        sr: int | None,
        name: str,
        hop_length: int,
        batch_size: int,
        max_duration_s: float | None,
        max_windows: int,
        prefetch_blocks: bool = True,
    ) -> SongWindows:
        """The windows of a whole input, as :meth:`Classifier.predict` documents them.

        ``max_windows`` > 0 plans that many spread windows (:func:`spread_starts`) where the
        song needs more: read by seeking where the format allows, else cut from the whole
        stream. ``max_duration_s`` (seconds or ``None``) refuses longer audio
        (``AudioTooLongError``); ``prefetch_blocks`` decodes the next block in a thread.
        """
        if isinstance(source, np.ndarray):
            source = self.waveform(source, sr)
        elif sr is not None:
            raise InvalidParameterError("sr applies to waveform arrays only; encoded audio carries its own rate")
        slicer = _WindowSlicer(self.window_length, hop_length)
        if max_windows:
            if isinstance(source, np.ndarray):
                n_total: int | None = len(source)
            else:
                if not isinstance(source, (str, os.PathLike, bytes, bytearray, memoryview)):
                    source = source.read()
                excerpts, n_total = self._spread_excerpts(
                    source, name=name, hop_length=hop_length, batch_size=batch_size,
                    max_duration_s=max_duration_s, max_windows=max_windows,
                )
                if excerpts is not None:
                    return excerpts
            starts = None if n_total is None else spread_starts(
                n_total, window_length=self.window_length, hop_length=hop_length, max_windows=max_windows
            )
            if starts is not None:
                slicer = _WindowSlicer(self.window_length, hop_length, starts)
        song = SongWindows(name=name)
        blocks = self._blocks(source, max_duration_s, prefetch_blocks)
        song.batches = self._stream(song, blocks, slicer, batch_size=batch_size, max_duration_s=max_duration_s)
        return song

    def part(self, y: np.ndarray, *, first_s: float, last_s: float | None, batch_size: int) -> SongWindows:
        """The windows of a mono waveform at the model's rate that start in ``[first_s, last_s)``
        (seconds; ``None``: to the end): those of every window, no overlap, an end-aligned
        closing one. The part's samples are measured; ``n_samples`` is the whole input's."""
        first = max(0, int(round(float(first_s) * self.sample_rate)))
        last = len(y) if last_s is None else min(len(y), int(round(float(last_s) * self.sample_rate)))
        part = y[first:last].astype(np.float64)
        slicer = _WindowSlicer(self.window_length, self.window_length)
        chosen = [w for w in (*slicer.push(y), *slicer.finish()) if first <= w.start < last]
        return SongWindows(
            name="<array>", batches=_in_batches(chosen, batch_size), n_samples=len(y),
            sum_squares=float(np.dot(part, part)), n_measured=int(part.size),
        )

    def _spread_excerpts(
        self,
        source: str | os.PathLike[str] | bytes | bytearray | memoryview,
        *,
        name: str,
        hop_length: int,
        batch_size: int,
        max_duration_s: float | None,
        max_windows: int,
    ) -> tuple[SongWindows | None, int | None]:
        """``max_windows`` spread windows decoded by seeking, and the song's length at the
        model's rate from its header (an estimate for formats ffmpeg decodes; ``None`` where
        unknown). The windows are ``None`` where the excerpts cannot be read that way (short
        song, unknown length, a format without seeking, excerpts that fail to decode): the
        caller then decodes the whole stream."""
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
        excerpts = [_Window(int(s), length, w) for s, w in zip(starts, windows)]
        song = SongWindows(
            name=name, batches=_in_batches(excerpts, batch_size), n_samples=n_samples, complete=False,
            sum_squares=float(np.sum(np.square(windows, dtype=np.float64))), n_measured=windows.size,
        )
        return song, n_samples

    def _blocks(self, source: AudioSource, max_duration_s: float | None, prefetch_blocks: bool) -> Iterator[np.ndarray]:
        """Mono float32 blocks at the model's rate (an array is already converted by :meth:`waveform`)."""
        if isinstance(source, np.ndarray):
            return iter([source])
        from genrekit.audio import iter_audio_blocks

        kwargs = {} if max_duration_s is None else {"max_duration_s": max_duration_s}
        blocks = iter_audio_blocks(source, self.sample_rate, block_s=STREAM_BLOCK_S, mono=True, **kwargs)
        return prefetch(blocks, depth=PREFETCH_DEPTH) if prefetch_blocks else blocks

    def _stream(
        self,
        song: SongWindows,
        blocks: Iterator[np.ndarray],
        slicer: _WindowSlicer,
        *,
        batch_size: int,
        max_duration_s: float | None,
    ) -> Iterator[list[_Window]]:
        """Batches of the windows ``slicer`` cuts from ``blocks``, measuring them into ``song``."""
        max_samples = None if max_duration_s is None else int(math.ceil(max_duration_s * self.sample_rate))
        pending: list[_Window] = []
        try:
            for block in blocks:
                block = np.asarray(block, dtype=np.float32)
                if block.ndim != 1:
                    raise InvalidParameterError(f"decoder returned a block of shape {block.shape}, expected mono")
                song.sum_squares += float(np.dot(block.astype(np.float64), block))
                song.n_measured += block.size
                for window in slicer.push(block):
                    pending.append(window)
                    if len(pending) >= batch_size:
                        yield pending
                        pending = []
                if max_samples is not None and slicer.n_samples > max_samples:
                    raise AudioTooLongError(
                        f"{song.name}: audio is longer than the maximum of {max_duration_s:g} s"
                    )
            pending.extend(slicer.finish())
            if pending:
                yield pending
        finally:
            close = getattr(blocks, "close", None)
            if close is not None:
                close()
        if slicer.n_samples == 0:
            raise EmptyAudioError(f"{song.name}: the audio holds no samples")
        song.n_samples = slicer.n_samples
        song.complete = slicer.complete
