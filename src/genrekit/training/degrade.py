"""Real-world degradations of a mono waveform, for training heads that meet music from
other sources: low-bitrate re-encoding, EQ, gain, time-stretch, pitch-shift and added noise.

Every op takes ``(y, sr, rng)`` (``y``: float32 samples in [-1, 1], ``sr``: Hz, ``rng``: a
:class:`numpy.random.Generator`) and returns float32 samples at the same rate, as many as it
was given except after a time-stretch (``n / rate``). The ranges are those of music as people
meet it: streaming previews and phone recordings (32-96 kbit/s MP3), cheap speakers and room
EQ (+-6 dB bands, missing lows or highs), level from quiet masters to clipped ones, tempo and
tuning within a few percent, and hiss at 15-35 dB SNR.

:data:`POLICIES` names what a recipe candidate can ask for (``augment = "mp3"`` ...);
``"mix"`` draws a chain of the others, the codec last as in the wild.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np

from genrekit.errors import InvalidParameterError


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` cut or zero-padded to ``n`` samples (float32)."""
    y = np.asarray(y, dtype=np.float32)
    if len(y) >= n:
        return y[:n]
    return np.pad(y, (0, n - len(y)))


def reencode_mp3(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Encode to constant-bitrate MP3 (libsndfile/LAME) and decode back.

    The bitrate comes from ``compression_level`` drawn in [0.75, 1.0] (libsndfile maps 0 to the
    highest bitrate and 1 to the lowest: about 32-96 kbit/s at 16-22 kHz)."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(y, -1.0, 1.0), sr, format="MP3", compression_level=float(rng.uniform(0.75, 1.0)),
             bitrate_mode="CONSTANT")
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32")
    return _fit_length(decoded, len(y))


def random_eq(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth random EQ curve: gains of +-6 dB at 8 log-spaced bands (40 Hz to Nyquist),
    interpolated over frequency, with a 1-in-2 chance of a low cut (80-300 Hz) and of a high
    cut (3.5-7 kHz), as from small speakers or old transfers."""
    spectrum = np.fft.rfft(y.astype(np.float64))
    freqs = np.fft.rfftfreq(len(y), 1.0 / sr)
    band_hz = np.geomspace(40.0, sr / 2, 8)
    gains_db = rng.uniform(-6.0, 6.0, size=band_hz.size)
    curve_db = np.interp(np.log(np.maximum(freqs, 1.0)), np.log(band_hz), gains_db)
    if rng.random() < 0.5:
        low_cut = rng.uniform(80.0, 300.0)
        curve_db -= 12.0 * np.log2(np.maximum(low_cut / np.maximum(freqs, 1.0), 1.0))  # 12 dB/octave below
    if rng.random() < 0.5:
        high_cut = rng.uniform(3500.0, 7000.0)
        curve_db -= 24.0 * np.log2(np.maximum(freqs / high_cut, 1.0))  # 24 dB/octave above
    out = np.fft.irfft(spectrum * 10.0 ** (curve_db / 20.0), n=len(y))
    return out.astype(np.float32)


def random_gain(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Level change of -20 to +6 dB relative to the clip's peak at 0 dBFS; what passes full
    scale is clipped, as in loud masters."""
    peak = float(np.max(np.abs(y))) or 1.0
    gain = 10.0 ** (rng.uniform(-20.0, 6.0) / 20.0) / peak
    return np.clip(y * gain, -1.0, 1.0).astype(np.float32)


def time_stretch(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Tempo change by 0.9-1.1x, pitch kept (librosa's phase vocoder); returns ``len(y) / rate``
    samples."""
    import librosa

    rate = float(rng.uniform(0.9, 1.1))
    return librosa.effects.time_stretch(y.astype(np.float32), rate=rate).astype(np.float32)


def pitch_shift(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Pitch change of -2 to +2 semitones, tempo kept (librosa)."""
    import librosa

    steps = float(rng.uniform(-2.0, 2.0))
    return _fit_length(librosa.effects.pitch_shift(y.astype(np.float32), sr=sr, n_steps=steps), len(y))


def add_noise(y: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f) noise at 15-35 dB signal-to-noise ratio (by RMS; silent input stays silent)."""
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    if rms == 0.0:
        return y.astype(np.float32)
    white = np.fft.rfft(rng.standard_normal(len(y)))
    freqs = np.fft.rfftfreq(len(y), 1.0 / sr)
    pink = np.fft.irfft(white / np.sqrt(np.maximum(freqs, 20.0)), n=len(y))
    pink *= rms / (float(np.sqrt(np.mean(pink**2))) or 1.0) / 10.0 ** (rng.uniform(15.0, 35.0) / 20.0)
    return np.clip(y + pink, -1.0, 1.0).astype(np.float32)


Degradation = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]
OPS: dict[str, Degradation] = {
    "eq": random_eq,
    "stretch": time_stretch,
    "pitch": pitch_shift,
    "gain": random_gain,
    "noise": add_noise,
    "mp3": reencode_mp3,
}
POLICIES = (*OPS, "mix")


def degrade(y: np.ndarray, sr: int, policy: str, rng: np.random.Generator) -> np.ndarray:
    """``y`` through one op of :data:`OPS`, or with ``policy="mix"`` through each op with
    probability 1/2 (at least one), in the order of :data:`OPS` (the codec last).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples in [-1, 1].
    sr : int
        Sample rate, Hz.
    policy : str
        One of :data:`POLICIES`.
    rng : np.random.Generator

    Returns
    -------
    np.ndarray [shape=(m,), dtype=float32]
        ``m = n`` unless a time-stretch ran.
    """
    if policy not in POLICIES:
        raise InvalidParameterError(f"unknown degradation {policy!r}; one of {POLICIES}")
    if policy != "mix":
        return OPS[policy](y, sr, rng)
    chosen = [name for name in OPS if rng.random() < 0.5] or [str(rng.choice(list(OPS)))]
    for name in chosen:
        y = OPS[name](y, sr, rng)
    return y
