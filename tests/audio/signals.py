"""Signals and encoders shared by the audio tests (files are written by the tests themselves)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrekit.audio import ffmpeg_exe

SR = 44100  # Hz, native rate of the test signal
DURATION_S = 1.0
FREQ_HZ = 440.0
LEFT_AMP, RIGHT_AMP = 0.5, 0.25

# name -> (file name, ffmpeg output arguments, with a video track)
FFMPEG_ENCODES = {
    "mp3": ("tone.mp3", ["-c:a", "libmp3lame", "-b:a", "96k"], False),
    "opus": ("tone.opus", ["-c:a", "libopus", "-b:a", "48k"], False),
    "m4a": ("tone.m4a", ["-c:a", "aac", "-b:a", "96k"], False),
    "aac": ("tone.aac", ["-c:a", "aac", "-b:a", "96k", "-f", "adts"], False),
    "mp4": ("tone.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k"], True),
    "webm": ("tone.webm", ["-c:v", "libvpx", "-c:a", "libopus", "-b:a", "48k"], True),
    "mkv": ("tone.mkv", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "libvorbis"], True),
    "wma": ("tone.wma", ["-c:a", "wmav2", "-b:a", "96k"], False),
}
# name -> (file name, soundfile format, subtype)
SOUNDFILE_WRITES = {
    "wav": ("tone.wav", "WAV", "PCM_16"),
    "wav_float": ("tone_float.wav", "WAV", "FLOAT"),
    "flac": ("tone.flac", "FLAC", "PCM_16"),
    "ogg": ("tone.ogg", "OGG", "VORBIS"),
    "aiff": ("tone.aiff", "AIFF", "PCM_16"),
    "au": ("tone.au", "AU", "PCM_16"),
}


def stereo_sine(sr: int = SR, duration_s: float = DURATION_S) -> np.ndarray:
    """(n, 2) float32: 440 Hz at 0.5 on the left and 0.25 on the right."""
    t = np.arange(int(round(sr * duration_s))) / sr
    tone = np.sin(2 * np.pi * FREQ_HZ * t)
    return np.stack([LEFT_AMP * tone, RIGHT_AMP * tone], axis=1).astype(np.float32)


def run_ffmpeg(*args: str) -> None:
    """Run the bundled ffmpeg quietly; fail the test with its stderr if it fails."""
    done = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *args], capture_output=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(f"ffmpeg failed: {done.stderr.decode(errors='replace')}")


def ffmpeg_encode(src: Path, out: Path, codec_args: list[str], video: bool = False) -> Path:
    inputs = ["-i", str(src)]
    if video:
        inputs += ["-f", "lavfi", "-i", "color=c=black:s=32x32:r=5:d=1", "-shortest"]
    run_ffmpeg(*inputs, *codec_args, str(out))
    return out


def write_noise_flac(path: Path, duration_s: float, sr: int = SR, seed: int = 0) -> Path:
    """Stereo white noise (compresses evenly, so a byte fraction is a time fraction)."""
    rng = np.random.default_rng(seed)
    sf.write(path, (0.3 * rng.standard_normal((int(sr * duration_s), 2))).astype(np.float32), sr, subtype="PCM_16")
    return path


def peak_frequency_hz(y: np.ndarray, sr: float) -> float:
    """Frequency (Hz) of the strongest FFT bin of a mono signal, Hann-windowed."""
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spectrum) * sr / len(y))
