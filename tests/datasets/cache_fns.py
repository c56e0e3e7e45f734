"""Top-level feature functions for the cache tests (workers import them by name)."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf

STOP_AFTER = 2  # calls that succeed before a run with an existing stop file is interrupted


def _mark(marker_dir: str | None, path: Path) -> int:
    """Record one call in ``marker_dir``; the number of calls recorded before it."""
    if marker_dir is None:
        return 0
    folder = Path(marker_dir)
    n_before = sum(1 for _ in folder.iterdir())
    (folder / f"{path.name}.{uuid.uuid4().hex}").touch()
    return n_before


def rms_feature(
    path: Path, *, scale: float = 1.0, marker_dir: str | None = None, stop_file: str | None = None
) -> np.ndarray:
    """Scaled frame RMS of a sound file, float32, shape (n_frames,); 100 ms frames.

    While ``stop_file`` exists, calls after the first :data:`STOP_AFTER` ones raise
    ``KeyboardInterrupt`` (a user pressing Ctrl-C mid-job).
    """
    n_before = _mark(marker_dir, path)
    if stop_file is not None and Path(stop_file).exists() and n_before >= STOP_AFTER:
        raise KeyboardInterrupt
    y, sr = sf.read(path, dtype="float32", always_2d=False)
    frame = sr // 10
    n_frames = len(y) // frame
    frames = y[: n_frames * frame].reshape(n_frames, frame)
    return (scale * np.sqrt(np.mean(frames**2, axis=1))).astype(np.float32)


def crash_on_marked_file(path: Path, *, marker_dir: str | None = None) -> np.ndarray:
    """Like :func:`rms_feature`, but the worker process kills itself on files named ``crash*``."""
    if path.name.startswith("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    return rms_feature(path, marker_dir=marker_dir)


def not_an_array(path: Path) -> list:
    """Returns a list, which the cache must refuse."""
    return [1, 2, 3]
