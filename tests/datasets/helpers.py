"""Small audio files and dataset trees for the datasets and ``data`` CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 8000  # Hz; small files, fast to decode


def tone(duration_s: float, freq_hz: float = 440.0, sr: int = SR, amplitude: float = 0.5) -> np.ndarray:
    """A sine tone, float32, shape (n_samples,)."""
    t = np.arange(int(round(duration_s * sr))) / sr
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def write_audio(
    path: Path, duration_s: float = 0.2, freq_hz: float = 440.0, sr: int = SR, fmt: str | None = None
) -> Path:
    """Write a 16-bit tone to ``path`` (format from the extension unless ``fmt``).

    The samples are written as int16, so every container stores the same PCM (libsndfile
    scales floats differently for WAV and FLAC).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.round(tone(duration_s, freq_hz, sr) * 32767).astype(np.int16)
    sf.write(path, pcm, sr, subtype="PCM_16", format=fmt)
    return path


def touch(path: Path, content: bytes = b"") -> Path:
    """Create a placeholder file (layout tests need no real audio)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def corrupt_wav_bytes() -> bytes:
    """A RIFF/WAVE header whose chunks are garbage: recognised as WAV, not decodable."""
    return b"RIFF\x24\x10\x00\x00WAVEfmt \xff\xff\xff\xff" + bytes(range(256)) * 4
