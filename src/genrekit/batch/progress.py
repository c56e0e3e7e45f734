"""Progress of a batch: a bar on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

PLAIN_INTERVAL_S = 10.0  # seconds between plain progress lines


def format_duration(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss`` (rounded down)."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


FALLBACK_SIZE = (80, 24)  # columns, lines assumed when a terminal reports no size (a fresh pseudo-terminal)


def _terminal_size(stream: Any) -> tuple[int, int] | None:
    """``None`` when the terminal reports its size (the bar follows it), else a fixed one.

    tqdm draws nothing on a terminal that reports 0 lines, as a new pseudo-terminal does.
    """
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return FALLBACK_SIZE
    return None if size.columns > 0 and size.lines > 0 else FALLBACK_SIZE


class Progress:
    """Counts finished songs and shows count, rate (songs/s) and ETA.

    On a terminal (``stream.isatty()``) it draws a tqdm bar; otherwise it prints one plain
    line every ``interval_s`` seconds and one at the end. ``enabled=False`` (``--quiet``)
    shows nothing. Messages go through :meth:`write` so they do not break the bar.

    Parameters
    ----------
    total : int
        Songs to process.
    label : str
        Prefix of the bar and lines, e.g. ``"scan"``.
    stream : text stream
        Where to draw (default ``sys.stderr``, read when called).
    interactive : bool or None
        Force the bar (True) or plain lines (False); ``None``: ``stream.isatty()``.
    """

    def __init__(
        self,
        total: int,
        *,
        label: str,
        stream: TextIO | None = None,
        interactive: bool | None = None,
        enabled: bool = True,
        interval_s: float = PLAIN_INTERVAL_S,
    ) -> None:
        self.total = int(total)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.interval_s = float(interval_s)
        self.n_done = 0
        self.n_failed = 0
        self._start = time.monotonic()
        self._last_line = self._start
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty()) if interactive is None and callable(isatty) else bool(interactive)
        self._bar: Any = None
        if self.enabled and self.interactive and self.total > 0:
            from tqdm import tqdm

            size = _terminal_size(self.stream)
            self._bar = tqdm(total=self.total, desc=label, unit="song", file=self.stream, smoothing=0.1,
                             dynamic_ncols=size is None, ncols=size and size[0], nrows=size and size[1])

    @property
    def rate(self) -> float:
        """Songs per second so far."""
        elapsed = time.monotonic() - self._start
        return self.n_done / elapsed if elapsed > 0 else 0.0

    def update(self, *, failed: bool = False) -> None:
        """One more song finished (``failed``: it did not classify)."""
        self.n_done += 1
        self.n_failed += int(failed)
        if self._bar is not None:
            if failed:
                self._bar.set_postfix_str(f"{self.n_failed} failed", refresh=False)
            self._bar.update(1)
        elif self.enabled and not self.interactive:
            now = time.monotonic()
            if now - self._last_line >= self.interval_s:
                self._last_line = now
                self._plain_line()

    def line(self) -> str:
        """The plain progress line: ``label: done/total (pct), rate songs/s, ETA m:ss, n failed``."""
        rate = self.rate
        remaining = self.total - self.n_done
        eta = format_duration(remaining / rate) if rate > 0 else "?"
        pct = 100.0 * self.n_done / self.total if self.total else 100.0
        failed = f", {self.n_failed} failed" if self.n_failed else ""
        return f"{self.label}: {self.n_done}/{self.total} ({pct:.0f}%), {rate:.2f} songs/s, ETA {eta}{failed}"

    def _plain_line(self) -> None:
        print(self.line(), file=self.stream, flush=True)

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """Hide the bar while something else writes to the terminal (results on stdout)."""
        if self._bar is None:
            yield
            return
        from tqdm import tqdm

        with tqdm.external_write_mode(file=self.stream):
            yield

    def write(self, message: str) -> None:
        """Print a message line without breaking the bar."""
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        """Finish the bar, or print the last plain line."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled and not self.interactive and self.total > 0:
            self._plain_line()
