"""Speed of whole-song classification with the default bundle: prints figures, asserts nothing.

Measures, on audio it generates with the ffmpeg binary of imageio-ffmpeg (music-like
synthetic notes and drums):

* warm latency (model loaded once; median of N in-process ``Classifier.predict`` runs) for a
  30 s FLAC clip (22.05 kHz mono, like GTZAN) and a 4-minute MP3 (44.1 kHz stereo, 192 kb/s),
  as the model's card sets it up (the default model reads 4 windows spread over the song,
  decoding only those) and with every window (``max_windows=0``, ``genrekit classify --full``);
* a profile of the 4-minute MP3: excerpt decoding, full decode (+ soxr resampling to 16 kHz)
  against ffmpeg's own resampler, musicnn input (mel), each backbone, the head, and the music
  check; and what decoding with ffmpeg's resampler changes in the probabilities;
* throughput for a batch of 30 s songs (``Classifier.predict_many``), songs per second;
* cold latency: a fresh ``genrekit classify`` process per run (imports, model load, decode,
  inference), median of N;
* peak memory (``ru_maxrss``) after the warm runs and of each cold process;
* the ORIGINAL musicnn pipeline (librosa + TensorFlow, ``musicnn.extractor``) on the same
  files, when ``MUSICNN_ORIG_PYTHON`` names a Python that has ``musicnn`` and TensorFlow
  (e.g. ``/tmp/tfenv/bin/python``), and the ratio to ours.

Usage::

    .venv/bin/python benchmarks/bench_classify.py [--runs 5] [--threads 2] [--bundle DIR]
    MUSICNN_ORIG_PYTHON=/tmp/tfenv/bin/python .venv/bin/python benchmarks/bench_classify.py
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from genrekit.audio import ExcerptReader, ffmpeg_exe, iter_audio_blocks
from genrekit.predict import STREAM_BLOCK_S, Classifier, music_evidence, slice_windows, spread_starts

ORIG_ENV = "MUSICNN_ORIG_PYTHON"


def music_like(duration_s: float, sr: int, seed: int = 0) -> np.ndarray:
    """Stereo music-like audio: decaying harmonic notes on a scale, a kick and noisy hats."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sr)
    y = np.zeros((2, n), dtype=np.float32)
    note = int(0.25 * sr)
    t = np.arange(note) / sr
    env = np.exp(-t * 5).astype(np.float32)
    kick = (np.sin(2 * np.pi * 55 * t * (1 + 2 * np.exp(-t * 30))) * np.exp(-t * 12)).astype(np.float32)
    hat = (rng.standard_normal(note) * np.exp(-t * 60)).astype(np.float32)
    scale = 220 * 2 ** (np.array([0, 2, 3, 5, 7, 8, 10, 12]) / 12)
    for i, start in enumerate(range(0, n - note, note)):
        f0 = scale[rng.integers(0, len(scale))]
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)).astype(np.float32) * env
        pan = rng.uniform(0.3, 0.7)
        y[0, start : start + note] += 0.3 * tone * pan
        y[1, start : start + note] += 0.3 * tone * (1 - pan)
        y[:, start : start + note] += 0.5 * kick if i % 4 == 0 else 0.08 * hat
    return y / np.abs(y).max() * 0.8


def encode(wav: Path, out: Path, *args: str) -> Path:
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(wav), *args, str(out)], check=True)
    return out


def make_inputs(directory: Path, n_batch: int) -> dict[str, Path]:
    sr = 44100
    wav = directory / "song.wav"
    sf.write(wav, music_like(240.0, sr).T, sr, subtype="PCM_16")
    files = {"4 min MP3": encode(wav, directory / "song-4min.mp3", "-codec:a", "libmp3lame", "-b:a", "192k")}
    for i in range(n_batch):
        clip = directory / f"clip{i}.wav"
        sf.write(clip, music_like(30.0, 22050, seed=i + 1).mean(axis=0), 22050, subtype="PCM_16")
        files[f"clip{i}"] = encode(clip, directory / f"clip{i}.flac", "-ar", "22050", "-ac", "1")
    files["30 s FLAC"] = files["clip0"]
    return files


def timed(fn, runs: int) -> tuple[float, float, object]:
    """Median and min wall time (s) of ``runs`` calls (after one warm-up call), and the last result."""
    result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), result


def decode_ffmpeg_16k(path: Path) -> np.ndarray:
    """Decode and resample in one ffmpeg process (its default swr resampler)."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-i", str(path), "-ac", "1", "-ar", "16000", "-f", "f32le", "pipe:1"],
        check=True,
        capture_output=True,
    )
    return np.frombuffer(proc.stdout, dtype=np.float32)


def read_spread_excerpts(clf: Classifier, path: Path) -> np.ndarray:
    """The windows the default predict reads: ``clf.max_windows`` excerpts spread over the song."""
    with ExcerptReader(path, clf.sample_rate) as reader:
        starts = spread_starts(
            reader.n_samples, window_length=clf.window_length, hop_length=clf.window_length,
            max_windows=max(1, clf.max_windows),
        )
        return np.stack([reader.read(int(s), clf.window_length) for s in starts])


def profile(clf: Classifier, torch_clf: Classifier, path: Path, runs: int) -> None:
    sr = clf.sample_rate
    med, _, excerpts = timed(lambda: read_spread_excerpts(clf, path), runs)
    print(f"  decode {len(excerpts)} spread excerpts + soxr HQ (ExcerptReader):   {med * 1000:8.1f} ms")
    med, _, y = timed(lambda: np.concatenate(list(iter_audio_blocks(path, sr, block_s=STREAM_BLOCK_S))), runs)
    print(f"  decode + soxr HQ to {sr} Hz (genrekit.audio):       {med * 1000:8.1f} ms")
    med_ff, _, y_ff = timed(lambda: decode_ffmpeg_16k(path), runs)
    print(f"  decode + ffmpeg's resampler to {sr} Hz (one process): {med_ff * 1000:8.1f} ms")
    length = clf.window_length
    _, _, windows = slice_windows(y, window_length=length, hop_length=length)
    print(f"  windows: {len(windows)} x {length} samples")
    torch_model = torch_clf.model
    embedder = getattr(torch_model, "embedder", None)
    if embedder is not None:
        x = torch.from_numpy(windows)
        with torch.inference_mode():
            med, _, patches = timed(lambda: embedder.patches(x), runs)
            print(f"  musicnn input (mel, torch, batched):               {med * 1000:8.1f} ms")
            size = clf.batch_size
            chunks = [patches[i : i + size].contiguous() for i in range(0, len(patches), size)]
            session = getattr(clf.model, "_session", None)
            if session is not None:
                name_in = session.get_inputs()[0].name
                feeds = [{name_in: chunk.numpy()} for chunk in chunks]
                med, _, _ = timed(lambda: [session.run(None, feed) for feed in feeds], runs)
                print(f"  backbones + head, ONNX Runtime ({len(windows)} patches, batches of {size}): {med * 1000:8.1f} ms "
                      f"({med / len(windows) * 1000:.1f} ms/patch)")
            for name, backbone in embedder.backbones.items():
                med, _, _ = timed(lambda b=backbone: [b.embed(chunk) for chunk in chunks], 1)
                print(f"  backbone {name:<12s}, PyTorch ({len(windows)} patches):  {med * 1000:8.1f} ms "
                      f"({med / len(windows) * 1000:.1f} ms/patch)")
    med, _, _ = timed(lambda: music_evidence(windows, sr), runs)
    print(f"  music check:                                       {med * 1000:8.1f} ms")
    n = min(len(y), len(y_ff))
    a = clf.predict(y[:n], sr=sr, top_k=0)
    b = clf.predict(y_ff[:n], sr=sr, top_k=0)
    pa = {g.genre: g.score for g in a.genres}
    pb = {g.genre: g.score for g in b.genres}
    agree = np.mean([s.genre == t.genre for s, t in zip(a.segments, b.segments)])
    print(f"  soxr vs ffmpeg's resampler: max |d track prob| {max(abs(pa[k] - pb[k]) for k in pa):.4f}, "
          f"window top-1 agreement {agree:.3f}, track top-1 {a.top_genre} vs {b.top_genre}")


# The child reports its own peak from /proc/self/status (VmHWM is reset by exec, unlike
# ru_maxrss, which a forked child inherits from this large parent).
COLD_SCRIPT = (
    "import sys; from genrekit.cli.main import main; code = main(sys.argv[1:]); "
    "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]; "
    "print('MAXRSS', hwm[0] if hwm else 'nan', file=sys.stderr); sys.exit(code)"
)


def cold_runs(path: Path, runs: int, bundle: str | None, threads: int | None) -> tuple[float, float]:
    """Median wall time (s) of a fresh ``genrekit classify`` process, and its peak RSS (MB)."""
    cmd = [sys.executable, "-c", COLD_SCRIPT, "classify", "--format", "json", str(path)]
    if bundle:
        cmd[4:4] = ["--model", bundle]
    if threads:
        cmd[4:4] = ["--threads", str(threads)]
    times, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, check=True, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        peaks += [float(line.split()[1]) / 1024 for line in proc.stderr.splitlines() if line.startswith("MAXRSS")]
    return statistics.median(times), max(peaks, default=float("nan"))


ORIG_SCRIPT = textwrap.dedent(
    """
    import sys, time, os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    t0 = time.perf_counter()
    from musicnn.extractor import extractor
    t_import = time.perf_counter() - t0
    times = []
    for path in sys.argv[1:]:
        t = time.perf_counter()
        extractor(path, model="MSD_musicnn", input_length=3, input_overlap=False, extract_features=False)
        times.append(time.perf_counter() - t)
    import resource
    print("RESULT", t_import, *times, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


def original(python: str, files: list[Path]) -> list[float] | None:
    """Import time, then per-file extractor times (each file twice: first and repeated call)."""
    args = [str(f) for f in files for _ in range(2)]
    proc = subprocess.run([python, "-c", ORIG_SCRIPT, *args], capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT"):
            return [float(v) for v in line.split()[1:]]
    print(f"  original musicnn failed: {proc.stderr[-800:]}")
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per warm figure (median)")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8, help="30 s songs in the throughput batch")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--bundle", default=None, help="model bundle (default: the bundled model)")
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"genrekit classify benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="genrekit-bench-") as tmp:
        files = make_inputs(Path(tmp), args.batch)
        start = time.perf_counter()
        clf = Classifier.load(args.bundle)
        print(f"model {clf.model_info.name} {clf.model_info.version}: loaded in {time.perf_counter() - start:.2f} s "
              f"(runtime {type(clf.model).__name__}); window {clf.window_s:.3f} s at {clf.sample_rate} Hz")
        print("warm latency (median of runs, decode included, tags included):")
        warm = {}
        modes = {f"default (max_windows={clf.max_windows})": None, "every window (--full)": 0}
        for mode, max_windows in modes.items():
            for key in ("30 s FLAC", "4 min MP3"):
                med, best, pred = timed(lambda k=key, m=max_windows: clf.predict(files[k], max_windows=m), args.runs)
                warm[key, max_windows] = med
                print(f"  {key:10s} {mode:24s}: median {med:.3f} s, min {best:.3f} s  "
                      f"({len(pred.segments)} windows, top {pred.top_genre})")
        warm_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak memory after the warm runs (ru_maxrss): {warm_mb:.0f} MB")
        torch_clf = Classifier.load(args.bundle, runtime="torch")
        med, _, _ = timed(lambda: torch_clf.predict(files["4 min MP3"]), 1)
        print(f"  4 min MP3, PyTorch runtime instead of ONNX Runtime: {med:.3f} s (1 run)")
        print("profile of the 4 min MP3:")
        profile(clf, torch_clf, files["4 min MP3"], max(1, args.runs // 2))
        batch = [files[f"clip{i}"] for i in range(args.batch)]
        med, _, _ = timed(lambda: clf.predict_many(batch), 1)
        print(f"throughput: {args.batch} x 30 s songs in {med:.2f} s = {args.batch / med:.2f} songs/s")
        if not args.skip_cold:
            for key in ("30 s FLAC", "4 min MP3"):
                cold, peak_mb = cold_runs(files[key], args.cold_runs, args.bundle, args.threads)
                print(f"cold process ({key}, genrekit classify): median {cold:.2f} s, peak memory {peak_mb:.0f} MB")
        self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory (ru_maxrss) of this whole benchmark, profile included: {self_mb:.0f} MB")
        python = os.environ.get(ORIG_ENV)
        if python:
            print(f"original musicnn ({python}; MSD_musicnn only, librosa + TensorFlow, batch size 1):")
            result = original(python, [files["30 s FLAC"], files["4 min MP3"]])
            if result:
                t_import, c1, c2, m1, m2, rss_kb = result
                print(f"  import {t_import:.2f} s; 30 s: first {c1:.2f} s, repeated {c2:.2f} s; "
                      f"4 min: first {m1:.2f} s, repeated {m2:.2f} s; peak {rss_kb / 1024:.0f} MB")
                for mode, max_windows in modes.items():
                    print(f"  ratio original / genrekit warm, {mode}: 30 s {c2 / warm['30 s FLAC', max_windows]:.1f}x, "
                          f"4 min {m2 / warm['4 min MP3', max_windows]:.1f}x")
        else:
            print(f"original musicnn: skipped (set {ORIG_ENV} to a Python with musicnn + TensorFlow)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
