"""Speed and memory of decoding: prints figures, asserts nothing.

Generates 4 minutes of synthetic music-like audio (notes with harmonics, bass, drums;
44.1 kHz stereo) and encodes it with the ffmpeg binary of imageio-ffmpeg to MP3 (192 kb/s,
decoded by libsndfile) and M4A/AAC (192 kb/s, decoded through ffmpeg), in a temporary
folder. For each file it times, median of N runs:

* ``probe_audio``;
* ``load_audio`` at the native rate (stereo), and mono at 16 kHz and 22.05 kHz (soxr HQ);
* ``iter_audio_blocks`` to mono 16 kHz (30 s blocks);
* ``librosa.load(sr=22050)`` on the MP3, for reference;
* the log-mel spectrogram (``genrekit.features.functional.log_mel_spectrogram``, 128 mels,
  n_fft 2048, hop 512) of the 22.05 kHz signal, when that module is there.

Memory: for each step the peak resident set size during its last run and how much that
is above the resident size just before it (Linux: ``VmHWM`` after resetting it through
``/proc/self/clear_refs``; elsewhere only the process peak from ``resource.getrusage``),
and the process's overall ``ru_maxrss`` at the end. For scale, 4 minutes of 44.1 kHz
stereo float32 is 85 MB; mono 16 kHz is 15 MB.

Usage::

    .venv/bin/python benchmarks/bench_decode.py [--runs 5] [--minutes 4]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from genrekit.audio import ffmpeg_exe, iter_audio_blocks, load_audio, probe_audio

SR = 44100  # Hz, rate of the generated audio


def music_like(duration_s: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """(n, 2) float32 stereo: a chord progression of harmonic notes, a bass line, kick and hi-hat."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sr)
    t = np.arange(n) / sr
    out = np.zeros((n, 2), np.float32)
    beat_s = 0.5  # 120 BPM
    roots_hz = (220.0, 174.61, 261.63, 196.0)
    n_beats = int(duration_s / beat_s)
    note_len = int(beat_s * sr)
    envelope = np.exp(-np.arange(note_len) / (0.25 * sr)).astype(np.float32)
    for beat in range(n_beats):
        start = beat * note_len
        seg = slice(start, min(start + note_len, n))
        m = seg.stop - seg.start
        root = roots_hz[(beat // 8) % len(roots_hz)]
        tt = t[seg]
        for k, ratio in enumerate((1.0, 1.26, 1.5)):
            f = root * ratio * (2 if beat % 2 else 1)
            tone = sum(np.sin(2 * np.pi * f * h * tt) / h for h in (1, 2, 3))
            pan = (0.3 + 0.2 * k, 0.7 - 0.2 * k)
            out[seg, 0] += 0.08 * pan[0] * tone * envelope[:m]
            out[seg, 1] += 0.08 * pan[1] * tone * envelope[:m]
        bass = 0.15 * np.sin(2 * np.pi * root / 2 * tt) * envelope[:m]
        out[seg] += bass[:, None]
        if beat % 2 == 0:
            kick = 0.4 * np.sin(2 * np.pi * 60 * tt[: min(m, 4000)]) * np.exp(-np.arange(min(m, 4000)) / 800)
            out[seg.start : seg.start + len(kick)] += kick[:, None]
        hat_len = min(m, 1500)
        hat = 0.05 * rng.standard_normal(hat_len) * np.exp(-np.arange(hat_len) / 200)
        out[seg.start : seg.start + hat_len] += hat[:, None]
    return np.clip(out, -1, 1).astype(np.float32)


def make_inputs(directory: Path, minutes: float) -> dict[str, Path]:
    wav = directory / "music.wav"
    sf.write(wav, music_like(60 * minutes), SR, subtype="PCM_16")
    files = {}
    for name, args in (("mp3", ["-c:a", "libmp3lame", "-b:a", "192k"]), ("m4a", ["-c:a", "aac", "-b:a", "192k"])):
        out = directory / f"music.{name}"
        subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(wav), *args, str(out)], check=True)
        files[name] = out
    wav.unlink()
    return files


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _status_mb(field: str) -> float | None:
    """A memory figure of /proc/self/status (``VmRSS``, ``VmHWM``) in MB, or None off Linux."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def measure(label: str, fn: Callable[[], object], runs: int, audio_s: float | None = None) -> object:
    """Print median (and min) wall time of ``runs`` calls, the speed relative to real time
    (for ``audio_s`` seconds of audio) and the peak RSS during the last call."""
    times = []
    result = None
    for i in range(runs):
        if i == runs - 1:
            result = None
            gc.collect()
            before = _status_mb("VmRSS")
            per_step = _reset_peak_rss()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    peak = _status_mb("VmHWM") if per_step else None
    if peak is not None and before is not None:
        memory = f"peak RSS {peak:5.0f} MB (+{peak - before:4.0f} MB)"
    else:
        memory = f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:5.0f} MB"
    median = statistics.median(times)
    speed = f"{audio_s / median:6.0f}x realtime" if audio_s else " " * 15
    print(f"  {label:<46} median {median * 1000:7.1f} ms  min {min(times) * 1000:7.1f} ms  {speed}  {memory}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median reported)")
    parser.add_argument("--minutes", type=float, default=4.0, help="length of the generated song")
    args = parser.parse_args()
    print(f"genrekit decode benchmark: Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, numpy {np.__version__}, libsndfile {sf.__libsndfile_version__}")
    print(f"ffmpeg: {ffmpeg_exe()}")
    try:
        from genrekit.features.functional import log_mel_spectrogram
    except ImportError:
        log_mel_spectrogram = None

    with tempfile.TemporaryDirectory(prefix="genrekit-bench-") as tmp:
        files = make_inputs(Path(tmp), args.minutes)
        duration_s = 60 * args.minutes
        for name, path in files.items():
            size_mb = path.stat().st_size / 1e6
            print(f"\n{name}: {duration_s:.0f} s, 44.1 kHz stereo, {size_mb:.1f} MB ({path.name})")
            info = measure("probe_audio", lambda: probe_audio(path), args.runs)
            print(f"    -> {info}")
            measure("load_audio native rate, stereo", lambda: load_audio(path, mono=False), args.runs, duration_s)
            measure("load_audio mono 16 kHz", lambda: load_audio(path, sr=16000), args.runs, duration_s)
            y22, _ = measure("load_audio mono 22.05 kHz", lambda: load_audio(path, sr=22050), args.runs, duration_s)
            measure(
                "iter_audio_blocks mono 16 kHz (30 s blocks)",
                lambda: sum(len(b) for b in iter_audio_blocks(path, 16000, block_s=30.0)),
                args.runs,
                duration_s,
            )
            if name == "mp3":
                import librosa

                librosa.load(path, sr=22050, duration=1.0)  # imports and first-call costs out of the timing
                ref = measure("librosa.load mono 22.05 kHz (reference)", lambda: librosa.load(path, sr=22050)[0],
                              args.runs, duration_s)
                print(f"    -> max |ours - librosa| = {np.max(np.abs(ref - y22)):.2e}")
                del ref
            if log_mel_spectrogram is not None:
                import torch

                wave = torch.from_numpy(y22)
                measure(
                    "log-mel 128 x (n_fft 2048, hop 512) @ 22.05 kHz",
                    lambda: log_mel_spectrogram(wave, sr=22050, n_fft=2048, hop_length=512, n_mels=128),
                    args.runs,
                    duration_s,
                )
                del wave
            del y22
    print(f"\nprocess peak RSS (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
