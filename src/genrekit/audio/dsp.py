"""Pure waveform helpers: downmix, resample, level. numpy arrays in, numpy arrays out."""

from __future__ import annotations

import math

import numpy as np
import soxr

from genrekit.errors import InvalidParameterError

RESAMPLE_QUALITY = "HQ"  # soxr quality; the same as librosa's default res_type="soxr_hq"
SILENCE_PEAK_DBFS = -90.0  # dBFS; a signal whose peak stays below this counts as silent


def check_rate(value: float, name: str = "sr") -> float:
    """Return ``value`` if it is a finite sample rate > 0 (Hz), else raise.

    Raises
    ------
    InvalidParameterError
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameterError(f"{name} must be a number of Hz > 0, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise InvalidParameterError(f"{name} must be a finite number of Hz > 0, got {value!r}")
    return value


def resampled_length(n_samples: int, orig_sr: float, target_sr: float) -> int:
    """Number of samples after resampling ``n_samples`` from ``orig_sr`` to ``target_sr`` Hz.

    ``ceil(n_samples * target_sr / orig_sr)``, computed as librosa does so lengths agree.
    """
    ratio = float(target_sr) / orig_sr
    return int(np.ceil(n_samples * ratio))


def fix_length(y: np.ndarray, size: int) -> np.ndarray:
    """Trim or zero-pad the last axis of ``y`` to ``size`` samples."""
    n = y.shape[-1]
    if n == size:
        return y
    if n > size:
        return y[..., :size]
    pad = [(0, 0)] * (y.ndim - 1) + [(0, size - n)]
    return np.pad(y, pad)


def resample(y: np.ndarray, orig_sr: float, target_sr: float) -> np.ndarray:
    """Resample along the last axis with soxr in high quality (``'HQ'``).

    Matches ``librosa.resample(y, orig_sr=..., target_sr=..., res_type="soxr_hq")``:
    the same filter and the same output length, ``ceil(n_samples * target_sr / orig_sr)``.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n_samples)]
        Audio, any leading shape (channels, batch, ...). float32 stays float32,
        float64 stays float64; other dtypes are converted to float32.
    orig_sr : number > 0
        Sample rate of ``y`` (Hz).
    target_sr : number > 0
        Sample rate wanted (Hz).

    Returns
    -------
    np.ndarray [shape=(..., ceil(n_samples * target_sr / orig_sr))]
        ``y`` itself when the rates are equal.

    Raises
    ------
    InvalidParameterError
        A rate is not a finite number > 0, or ``y`` is a scalar.
    """
    check_rate(orig_sr, "orig_sr")
    check_rate(target_sr, "target_sr")
    y = np.asarray(y)
    if y.ndim == 0:
        raise InvalidParameterError("y must have at least one axis (time), got a scalar")
    if y.dtype not in (np.float32, np.float64):
        y = y.astype(np.float32)
    if orig_sr == target_sr:
        return y
    n_out = resampled_length(y.shape[-1], orig_sr, target_sr)
    lead = y.shape[:-1]
    if y.shape[-1] == 0:
        return np.zeros((*lead, 0), dtype=y.dtype)
    # soxr takes (frames, channels); fold every leading axis into channels.
    frames = np.ascontiguousarray(y.reshape(-1, y.shape[-1]).T)
    out = soxr.resample(frames, orig_sr, target_sr, quality=RESAMPLE_QUALITY)
    out = np.ascontiguousarray(np.asarray(out).T).reshape(*lead, -1)
    return np.ascontiguousarray(fix_length(out, n_out), dtype=y.dtype)


def to_mono(y: np.ndarray) -> np.ndarray:
    """Downmix to mono by averaging channels (the librosa convention).

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]

    Returns
    -------
    np.ndarray [shape=(n_samples,)]
        ``y`` itself when already mono; float32 input stays float32.

    Raises
    ------
    InvalidParameterError
        ``y`` has more than two axes, or none.
    """
    y = np.asarray(y)
    if y.ndim == 1:
        return y
    if y.ndim != 2:
        raise InvalidParameterError(f"y must have shape (n_samples,) or (n_channels, n_samples), got {y.shape}")
    return np.mean(y, axis=0, dtype=y.dtype if y.dtype.kind == "f" else np.float32)


def peak_dbfs(y: np.ndarray) -> float:
    """Peak level of ``y`` in dBFS (0 dBFS = amplitude 1.0); ``-inf`` for all zeros or empty."""
    y = np.asarray(y)
    if y.size == 0:
        return float("-inf")
    peak = float(np.max(np.abs(y)))
    return 20.0 * math.log10(peak) if peak > 0 else float("-inf")


def is_silent(y: np.ndarray, threshold_dbfs: float = SILENCE_PEAK_DBFS) -> bool:
    """True when every sample of ``y`` is below ``threshold_dbfs`` (peak level, dBFS)."""
    return peak_dbfs(y) < threshold_dbfs
