"""How a song is cut into analysis windows: the one windowing used by serving, training,
validation and evaluation.

It lives on the audio floor (NumPy only) so that every room above, from ``models`` (an
ensemble cutting its members' windows) to ``predict`` and ``training``, can import it.
:func:`slice_windows` cuts a whole waveform; :class:`_WindowSlicer` does the same on a
stream of blocks; :func:`spread_starts` plans a few windows spread over a long song.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from genrekit.errors import InvalidParameterError


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

    @property
    def complete(self) -> bool:
        """Whether the windows cut cover the whole stream (no planned windows, so no gaps)."""
        return self._planned is None

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
    """Cut a waveform into analysis windows exactly as :meth:`genrekit.predict.Classifier.predict` does.

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

