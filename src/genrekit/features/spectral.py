"""NumPy spectral transforms (no torch): the mel scale and filter bank, and musicnn's input.

The serving path computes musicnn's input here, in NumPy/SciPy, and runs the networks with
ONNX Runtime, so classifying never imports torch. :mod:`genrekit.features.functional` (the
torch transforms used for training) takes its constants and mel filter bank from this module,
so both paths share one definition of each fact.

Parity: :func:`musicnn_input_np` equals :func:`genrekit.features.functional.musicnn_input`
within float32 rounding (max |difference| ~1e-5 before the float16 rounding of the mel power,
which can flip a value by one float16 step, ~1e-3 after ``log10``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import TypedDict

import numpy as np

from genrekit.errors import InvalidParameterError

PAD_MODES = ("constant", "reflect")
"""STFT centre-padding modes: zeros (librosa >= 0.10) or reflection (librosa < 0.10)."""

MEL_NORMS = ("slaney", None)
"""Mel filter normalisations: Slaney's constant-area triangles, or peak 1 (``None``)."""

MUSICNN_SR = 16_000  # Hz
MUSICNN_N_FFT = 512  # samples (32 ms)
MUSICNN_HOP_LENGTH = 256  # samples (16 ms)
MUSICNN_N_MELS = 96  # mel bands
MUSICNN_N_FRAMES = 187  # frames per patch (3 s): librosa.time_to_frames(3, sr=16000, hop_length=256, n_fft=512) + 1
MUSICNN_WINDOW_LENGTH = MUSICNN_N_FRAMES * MUSICNN_HOP_LENGTH  # 47872 samples: one patch of non-overlapping windows
MUSICNN_MIN_WINDOW_LENGTH = (MUSICNN_N_FRAMES - 1) * MUSICNN_HOP_LENGTH  # 47616 samples: shortest window giving 187 frames
MUSICNN_LOG_MULTIPLIER = 10_000.0  # musicnn's compression: log10(1 + 10000 * mel)
_FLOAT16_MAX = 65504.0  # largest finite float16

_SLANEY_F_SP = 200.0 / 3  # Hz per mel in the linear part of the Slaney scale
_SLANEY_MIN_LOG_HZ = 1000.0  # Hz, start of the log part
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP  # 15 mels
_SLANEY_LOGSTEP = math.log(6.4) / 27.0  # natural log of the frequency ratio per mel in the log part


# ----------------------------------------------------------------------------- checks


def _check_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameterError(f"{name} must be a number > 0, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise InvalidParameterError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def _check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    if value not in choices:
        raise InvalidParameterError(f"{name} must be one of {list(choices)}, got {value!r}")


def _check_f_range(sr: float, f_min_hz: float, f_max_hz: float | None) -> tuple[float, float]:
    nyquist_hz = sr / 2
    f_max = nyquist_hz if f_max_hz is None else float(f_max_hz)
    f_min = float(f_min_hz)
    if not math.isfinite(f_min) or f_min < 0:
        raise InvalidParameterError(f"f_min_hz must be >= 0, got {f_min_hz!r}")
    if not math.isfinite(f_max) or f_max > nyquist_hz:
        raise InvalidParameterError(f"f_max_hz must be <= sr / 2 = {nyquist_hz} Hz, got {f_max_hz!r}")
    if f_max <= f_min:
        raise InvalidParameterError(f"f_max_hz ({f_max}) must be greater than f_min_hz ({f_min})")
    return f_min, f_max


# ----------------------------------------------------------------------------- mel scale


def hz_to_mel(frequencies_hz: np.ndarray | float, *, htk: bool = False) -> np.ndarray:
    """Hz to mels: Slaney's scale (linear below 1 kHz, log above), or HTK's ``2595 log10(1 + f/700)``.

    Parameters
    ----------
    frequencies_hz : ndarray or float (Hz)
    htk : bool

    Returns
    -------
    np.ndarray, float64, same shape
    """
    f = np.asarray(frequencies_hz, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    linear = f / _SLANEY_F_SP
    with np.errstate(divide="ignore"):
        log = _SLANEY_MIN_LOG_MEL + np.log(np.maximum(f, 1e-300) / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP
    return np.where(f >= _SLANEY_MIN_LOG_HZ, log, linear)


def mel_to_hz(mels: np.ndarray | float, *, htk: bool = False) -> np.ndarray:
    """Mels to Hz, the inverse of :func:`hz_to_mel`.

    Returns
    -------
    np.ndarray, float64 (Hz), same shape
    """
    m = np.asarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    linear = _SLANEY_F_SP * m
    log = _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * (m - _SLANEY_MIN_LOG_MEL))
    return np.where(m >= _SLANEY_MIN_LOG_MEL, log, linear)


class MelBankOptions(TypedDict, total=False):
    """The optional keywords of :func:`mel_weights` that shape the bank (meaning and defaults there)."""

    n_mels: int
    f_min_hz: float
    f_max_hz: float | None
    htk: bool
    norm: str | None


def mel_weights(
    *,
    sr: float,
    n_fft: int,
    n_mels: int = 128,
    f_min_hz: float = 0.0,
    f_max_hz: float | None = None,
    htk: bool = False,
    norm: str | None = "slaney",
    dtype: type[np.floating] = np.float32,
) -> np.ndarray:
    """Triangular mel filter bank, equal to ``librosa.filters.mel`` (bit for bit in float32).

    Parameters
    ----------
    sr : number > 0 (Hz)
        Sample rate of the signal.
    n_fft : int > 0
        FFT size; the bank covers the ``1 + n_fft // 2`` one-sided FFT bins.
    n_mels : int > 0
        Number of mel bands.
    f_min_hz, f_max_hz : float (Hz)
        Lowest and highest band edges; ``0 <= f_min_hz < f_max_hz <= sr / 2``;
        ``f_max_hz=None`` means ``sr / 2``.
    htk : bool
        HTK mel scale instead of Slaney's.
    norm : {'slaney', None}
        ``'slaney'`` divides each triangle by its width in Hz (constant energy per band);
        ``None`` leaves triangles with peak 1.
    dtype : np.float32 or np.float64

    Returns
    -------
    np.ndarray [shape=(n_mels, 1 + n_fft // 2)]
    """
    sr = _check_positive("sr", sr)
    n_fft = _check_int("n_fft", n_fft)
    n_mels = _check_int("n_mels", n_mels)
    _check_choice("norm", norm, MEL_NORMS)
    f_min, f_max = _check_f_range(sr, f_min_hz, f_max_hz)
    fft_freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_edges = np.linspace(hz_to_mel(f_min, htk=htk), hz_to_mel(f_max, htk=htk), n_mels + 2)
    mel_f = mel_to_hz(mel_edges, htk=htk)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    # librosa stores the triangles in the output dtype, then scales them (rounding twice).
    weights = np.maximum(0.0, np.minimum(lower, upper)).astype(dtype)
    if norm == "slaney":
        enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
        weights = (weights * enorm[:, None]).astype(dtype)
    return weights


# ----------------------------------------------------------------------------- musicnn input


@lru_cache(maxsize=1)
def _musicnn_constants() -> tuple[np.ndarray, np.ndarray]:
    """Periodic Hann window ``(512,)`` and the transposed mel bank ``(257, 96)``, float32."""
    n = np.arange(MUSICNN_N_FFT, dtype=np.float64)
    window = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / MUSICNN_N_FFT)).astype(np.float32)
    bank = mel_weights(sr=MUSICNN_SR, n_fft=MUSICNN_N_FFT, n_mels=MUSICNN_N_MELS)
    return window, np.ascontiguousarray(bank.T)


def musicnn_input_np(
    wave: np.ndarray,
    *,
    pad_mode: str = "reflect",
    float16_rounding: bool = True,
    n_frames: int | None = None,
) -> np.ndarray:
    """musicnn's input ``log10(1 + 10000 * mel)`` of 16 kHz waveform(s), in NumPy.

    The same representation as :func:`genrekit.features.functional.musicnn_input` (centred
    Hann STFT, n_fft 512, hop 256, power 2, 96 Slaney mel bands, mel power rounded to
    float16 as musicnn did), computed in float32 with SciPy's FFT.

    Parameters
    ----------
    wave : np.ndarray [shape=(..., samples), dtype=float32 or float64]
        Waveform(s) at 16 kHz; more than 256 samples with reflection.
    pad_mode : {'reflect', 'constant'}
        STFT centre padding.
    float16_rounding : bool
        Round the mel power to float16 before the compression.
    n_frames : int > 0 or None
        Compute only the first ``n_frames`` frames (e.g. 187, one musicnn patch); ``None``:
        all ``1 + samples // 256``.

    Returns
    -------
    np.ndarray [shape=(..., 96, frames), dtype=float32]
        Frequency first, like :func:`genrekit.features.functional.musicnn_input`.
    """
    x = np.asarray(wave)
    if x.dtype.kind != "f" or x.ndim < 1 or x.shape[-1] == 0:
        raise InvalidParameterError(f"wave must be a float array of shape (..., samples >= 1), got {x.dtype} {x.shape}")
    _check_choice("pad_mode", pad_mode, PAD_MODES)
    x = x.astype(np.float32, copy=False)
    half = MUSICNN_N_FFT // 2
    n_samples = x.shape[-1]
    if pad_mode == "reflect" and n_samples <= half:
        raise InvalidParameterError(f"pad_mode='reflect' needs more than {half} samples, got {n_samples}")
    available = 1 + n_samples // MUSICNN_HOP_LENGTH
    frames = available if n_frames is None else min(_check_int("n_frames", n_frames), available)
    padding = [(0, 0)] * (x.ndim - 1) + [(half, half)]
    padded = np.pad(x, padding, mode=pad_mode)
    strided = np.lib.stride_tricks.sliding_window_view(padded, MUSICNN_N_FFT, axis=-1)
    window, bank_t = _musicnn_constants()
    framed = strided[..., : frames * MUSICNN_HOP_LENGTH : MUSICNN_HOP_LENGTH, :] * window
    import scipy.fft  # imported on first use: keeps importing the serving path cheap

    spectrum = scipy.fft.rfft(framed, axis=-1)
    power = spectrum.real * spectrum.real + spectrum.imag * spectrum.imag
    mel = power.astype(np.float32, copy=False) @ bank_t  # (..., frames, 96)
    if float16_rounding:
        mel = np.minimum(mel, _FLOAT16_MAX).astype(np.float16).astype(np.float32)
    log_mel = np.log10(np.float32(MUSICNN_LOG_MULTIPLIER) * mel + np.float32(1.0))
    return np.ascontiguousarray(np.swapaxes(log_mel, -1, -2))


def musicnn_window_patches(windows: np.ndarray, *, pad_mode: str = "reflect") -> np.ndarray:
    """One musicnn patch per window: ``(n, samples)`` 16 kHz windows -> ``(n, 187, 96)`` float32.

    Each window's first 187 frames, time first (musicnn's layout), as the PyTorch
    ``MusicnnHeadClassifier`` computes them. Windows need at least
    :data:`MUSICNN_MIN_WINDOW_LENGTH` samples.
    """
    x = np.asarray(windows)
    if x.ndim != 2:
        raise InvalidParameterError(f"windows must have shape (n_windows, n_samples), got {x.shape}")
    if x.shape[1] < MUSICNN_MIN_WINDOW_LENGTH:
        raise InvalidParameterError(
            f"windows must hold at least {MUSICNN_MIN_WINDOW_LENGTH} samples at {MUSICNN_SR} Hz "
            f"(expected {MUSICNN_WINDOW_LENGTH}), got {x.shape[1]}"
        )
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise InvalidParameterError("windows contain NaN or infinite samples")
    log_mel = musicnn_input_np(x, pad_mode=pad_mode, n_frames=MUSICNN_N_FRAMES)
    return np.ascontiguousarray(np.swapaxes(log_mel, -1, -2))
