"""Display data computed once from the decoded audio: waveform peaks and a small mel image.

Stored with each classification so that a permalink can draw the waveform and the
spectrogram without keeping the audio. Pure numpy: arrays in, JSON-ready dict out.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from genrekit.errors import InvalidParameterError
from genrekit.features.spectral import mel_weights

N_PEAKS = 1000  # time buckets of the waveform overview
N_MELS = 64  # mel bands of the image
MAX_FRAMES = 400  # time buckets of the image
N_FFT = 2048  # samples per STFT frame (frames do not overlap: hop = N_FFT)
F_MAX_HZ = 11025.0  # highest mel band edge (Hz), lowered to Nyquist for low rates
DB_MIN = -80.0  # dB of pixel 0 (and below), relative to a full-scale sine
DB_MAX = 0.0  # dB of pixel 255 (and above): a full-scale sine
DB_RANGE = DB_MAX - DB_MIN  # dB between the darkest and the brightest pixel
_FLOOR_POWER = 1e-10  # relative power taken for log of zero (-100 dB)
_BLOCK_FRAMES = 1024  # STFT frames transformed at once (bounds memory on long songs)


def waveform_peaks(y: np.ndarray, n_peaks: int = N_PEAKS) -> np.ndarray:
    """Max absolute amplitude per time bucket.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), dtype=float32]
        Mono audio in [-1, 1].
    n_peaks : int > 0
        Number of buckets (fewer when there are fewer samples).

    Returns
    -------
    np.ndarray [shape=(min(n_peaks, n_samples),), dtype=float32]
        Values in [0, 1] (samples beyond full scale are clipped), in time order.
    """
    if y.ndim != 1 or y.size == 0:
        raise InvalidParameterError(f"waveform_peaks needs a non-empty mono signal, got shape {y.shape}")
    if n_peaks <= 0:
        raise InvalidParameterError(f"n_peaks must be > 0, got {n_peaks}")
    n_buckets = min(n_peaks, y.size)
    edges = np.linspace(0, y.size, n_buckets + 1).astype(np.int64)
    peaks = np.maximum.reduceat(np.abs(y), edges[:-1])
    return np.clip(peaks, 0.0, 1.0).astype(np.float32)


def mel_image(
    y: np.ndarray, sr: int, *, n_mels: int = N_MELS, max_frames: int = MAX_FRAMES
) -> tuple[np.ndarray, float, float]:
    """A log-mel spectrogram reduced to at most ``max_frames`` time buckets, as uint8.

    The power spectrum of non-overlapping Hann frames (``N_FFT`` samples) is projected on
    ``n_mels`` triangular bands of the Slaney mel scale (0 Hz to min(``F_MAX_HZ``, sr / 2),
    peak 1) and averaged per time bucket. It is converted to dB relative to a fixed
    reference, the power a full-scale sine (amplitude 1) gives in its FFT bin, so a
    full-scale tone reads about 0 dB (up to +1.8 dB with the Hann main lobe), a tone at
    amplitude 0.01 about -40 dB, whatever else the clip holds. ``DB_MIN``..``DB_MAX``
    (-80..0 dB) map to pixels 0..255, clipped: near-silent input stays dark.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), dtype=float32]
        Mono audio.
    sr : int > 0
        Sample rate (Hz).
    n_mels : int > 0
    max_frames : int > 0

    Returns
    -------
    pixels : np.ndarray [shape=(n_mels, n_frames), dtype=uint8]
        Lowest frequency first; ``n_frames <= max_frames``.
    db_min, db_max : float
        dB values of pixel 0 and pixel 255 (``DB_MIN``, ``DB_MAX``).
    """
    if y.ndim != 1 or y.size == 0:
        raise InvalidParameterError(f"mel_image needs a non-empty mono signal, got shape {y.shape}")
    if sr <= 0 or n_mels <= 0 or max_frames <= 0:
        raise InvalidParameterError(f"sr, n_mels and max_frames must be > 0, got {sr}, {n_mels}, {max_frames}")
    signal = y.astype(np.float32, copy=False)
    if signal.size < N_FFT:
        signal = np.pad(signal, (0, N_FFT - signal.size))
    n_stft = signal.size // N_FFT
    frames = signal[: n_stft * N_FFT].reshape(n_stft, N_FFT)
    window = np.hanning(N_FFT).astype(np.float32)
    ref_power = (float(window.sum(dtype=np.float64)) / 2.0) ** 2  # |rfft|^2 of a full-scale sine in its bin
    f_max_hz = min(F_MAX_HZ, sr / 2.0)
    filters = mel_weights(sr=sr, n_fft=N_FFT, n_mels=n_mels, f_min_hz=0.0, f_max_hz=f_max_hz, norm=None)
    mel = np.empty((n_stft, n_mels), dtype=np.float32)
    for start in range(0, n_stft, _BLOCK_FRAMES):
        block = frames[start : start + _BLOCK_FRAMES] * window
        power = np.abs(np.fft.rfft(block, axis=-1)) ** 2
        mel[start : start + _BLOCK_FRAMES] = power.astype(np.float32) @ filters.T
    n_frames = min(max_frames, n_stft)
    edges = np.linspace(0, n_stft, n_frames + 1).astype(np.int64)
    counts = np.diff(edges).astype(np.float32)[:, None]
    pooled = np.add.reduceat(mel, edges[:-1], axis=0) / counts
    db = 10.0 * np.log10(np.maximum(pooled / ref_power, _FLOOR_POWER))
    scaled = np.clip((db - DB_MIN) / DB_RANGE, 0.0, 1.0) * 255.0
    pixels = np.round(scaled).astype(np.uint8).T
    return np.ascontiguousarray(pixels), DB_MIN, DB_MAX


def compute_visuals(y: np.ndarray, sr: int) -> dict[str, Any]:
    """Peaks and mel image of a decoded clip, in the ``VisualsPublic`` JSON shape.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), dtype=float32]
        Mono audio in [-1, 1].
    sr : int > 0
        Sample rate (Hz).
    """
    peaks = waveform_peaks(y)
    pixels, db_min, db_max = mel_image(y, sr)
    return {
        "peaks": [round(float(p), 4) for p in peaks],
        "mel": {
            "n_mels": int(pixels.shape[0]),
            "n_frames": int(pixels.shape[1]),
            "db_min": round(db_min, 3),
            "db_max": round(db_max, 3),
            "f_max_hz": min(F_MAX_HZ, sr / 2.0),
            "data": base64.b64encode(pixels.tobytes(order="C")).decode("ascii"),
        },
        "duration_s": float(y.size) / float(sr),
    }
