"""Cheap checks on the audio a prediction was made from: level, silence, "is it music?".

Pure functions over arrays; :class:`genrekit.predict.Classifier` turns their answers into
the warnings below.
"""

from __future__ import annotations

import numpy as np

from genrekit.errors import InvalidParameterError

SILENCE_DBFS = -60.0  # dB re full scale (RMS): quieter is "near-silent"

WARNING_SILENT = "near-silent input"
WARNING_NOT_MUSIC = "may not be music"
WARNING_SHORT = "input shorter than one analysis window; padded with silence"


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


MUSIC_EVIDENCE_NAMES = ("flatness", "low_energy_ratio", "level_std_db")
NOISE_FLATNESS = 0.25  # median spectral flatness at or above: noise-like
STEADY_LEVEL_STD_DB = 0.5  # median frame-level spread (dB) at or below: steady tone, hum or noise
SPEECH_LOW_ENERGY_RATIO = 0.45  # median share of frames quieter than half the mean RMS ...
SPEECH_LEVEL_STD_DB = 8.0  # ... with a frame-level spread (dB) at least this: speech with pauses
SPEECH_OVERRULED_BY_SCORE = 0.9  # a top genre probability at least this overrules the speech-like verdict

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
    import scipy.fft  # imported on first use: keeps importing the serving path cheap

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


def is_music(evidence: np.ndarray, *, top_score: float | None = None) -> bool:
    """Decide from :func:`music_evidence` rows (one per window) whether the input is music.

    The medians over windows are compared with fixed thresholds: noise-like (flatness >=
    :data:`NOISE_FLATNESS`), steady (level spread <= :data:`STEADY_LEVEL_STD_DB` dB) or
    speech-like (low-energy ratio >= :data:`SPEECH_LOW_ENERGY_RATIO` and level spread >=
    :data:`SPEECH_LEVEL_STD_DB` dB) is not music. Measured on the 680 shared clips
    (GTZAN dev, extra-pool and out-of-taxonomy music, 4 spread windows each): flatness at most
    0.20, level spread at least 0.8 dB, low-energy ratio at most 0.42, so none of them is
    flagged; white and pink noise, sines, hum and synthetic speech with pauses are. Speech over
    a loud noise floor or over music is not caught.

    Parameters
    ----------
    evidence : np.ndarray [shape=(n_windows, 3)]
    top_score : float in [0, 1] or None
        The track's top genre probability, where known: at least
        :data:`SPEECH_OVERRULED_BY_SCORE` overrules a speech-like verdict (pauses alone never
        turn a clear genre answer into "not music"); noise and steady tones are still flagged.

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
    if speech_like and top_score is not None and top_score >= SPEECH_OVERRULED_BY_SCORE:
        speech_like = False
    return not (noise_like or steady or speech_like)
