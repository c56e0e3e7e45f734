"""Latency of ``POST /api/v1/classify`` under 1, 4 and 16 concurrent clients.

Starts ``genrekit serve`` on a free loopback port (fresh SQLite database in a temporary
directory), generates a 30 s music-like clip, and sends a bounded number of uploads per
concurrency level. Each request carries a slightly different clip (tiny seeded noise) so the
content cache never answers. Prints p50/p95/max latency and throughput per level, the
latency of a full song (a 4-minute 44.1 kHz stereo MP3, one client, ``--song-runs`` uploads of
distinct variants), and the server's mean decode + inference time from ``/metrics``.

Usage::

    python benchmarks/bench_service.py [--model BUNDLE] [--requests 16] [--levels 1,4,16]

Without ``--model`` the default bundle is used; if there is none, an *untrained* musicnn
head bundle (pretrained MSD backbone, random head) is built in the temporary directory:
its timings equal a trained head's (the backbone dominates), its genres mean nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

CLIP_SR = 22050  # Hz
CLIP_S = 30.0  # seconds


def music_like(duration_s: float, sr: int, seed: int = 0) -> np.ndarray:
    """Notes of a few harmonics with decays and noisy beats, peak 0.5."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sr)
    y = np.zeros(n)
    note = int(0.25 * sr)
    tt = np.arange(note) / sr
    for i, start in enumerate(range(0, n, note)):
        f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
        seg = sum(0.3 / k * np.sin(2 * np.pi * f0 * k * tt) for k in range(1, 5)) * np.exp(-tt * 6)
        if i % 2 == 0:
            seg = seg + 0.2 * rng.standard_normal(note) * np.exp(-tt * 40)
        y[start : start + note] += seg[: n - start]
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def encode_variants(base: np.ndarray, sr: int, n: int) -> list[bytes]:
    """``n`` WAV files of ``base`` plus distinct tiny noise (different SHA-256 each)."""
    out = []
    for i in range(n):
        noise = 1e-4 * np.random.default_rng(1000 + i).standard_normal(base.size).astype(np.float32)
        buffer = io.BytesIO()
        sf.write(buffer, base + noise, sr, format="WAV", subtype="PCM_16")
        out.append(buffer.getvalue())
    return out


def mp3_variants(base: np.ndarray, sr: int, n: int, directory: Path) -> list[bytes]:
    """``n`` 192 kb/s stereo MP3 files (ffmpeg's LAME) of ``base`` plus distinct tiny noise."""
    from genrekit.audio import ffmpeg_exe

    out = []
    for i in range(n):
        noise = 1e-4 * np.random.default_rng(2000 + i).standard_normal(base.size).astype(np.float32)
        wav = directory / f"song{i}.wav"
        mp3 = directory / f"song{i}.mp3"
        sf.write(wav, np.stack([base + noise, base - noise], axis=1), sr, subtype="PCM_16")
        subprocess.run(
            [ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(wav), "-codec:a", "libmp3lame", "-b:a", "192k", str(mp3)],
            check=True,
        )
        out.append(mp3.read_bytes())
        wav.unlink()
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def untrained_bundle(directory: Path) -> Path:
    """A musicnn_head bundle with the pretrained MSD backbone and a random head (timing only)."""
    import torch

    from genrekit.bundle import save_bundle
    from genrekit.models import heads

    torch.manual_seed(0)
    labels = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
    model = heads.MusicnnHeadClassifier(labels, heads.MusicnnHeadConfig())
    card = heads.musicnn_head_card(
        model, name="untrained-musicnn-head", version="bench", limitations=["untrained head: timing only"]
    )
    tensors = heads.build_musicnn_head_bundle_tensors(model.backbones, model.head)
    return save_bundle(directory / "untrained", card, tensors)


def wait_ready(base: str, process: subprocess.Popen, timeout_s: float = 180.0, poll_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"genrekit serve exited with code {process.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(poll_s)
    raise RuntimeError("genrekit serve did not become ready")


def run_level(
    base: str, bodies: list[bytes], concurrency: int, *, suffix: str = "wav", media_type: str = "audio/wav"
) -> dict[str, float]:
    """Send every body with ``concurrency`` client threads; latencies in seconds."""
    latencies: list[float] = []
    failures: list[str] = []

    def send(index: int, client: httpx.Client) -> None:
        start = time.perf_counter()
        response = client.post("/api/v1/classify", files={"file": (f"clip{index}.{suffix}", bodies[index], media_type)})
        elapsed = time.perf_counter() - start
        if response.status_code == 200 and not response.json()["cached"]:
            latencies.append(elapsed)
        else:
            failures.append(f"{response.status_code} {response.text[:120]}")

    def worker(offset: int) -> None:
        with httpx.Client(base_url=base, timeout=600) as client:
            for index in range(offset, len(bodies), concurrency):
                send(index, client)

    wall_start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    wall = time.perf_counter() - wall_start
    for failure in failures[:3]:
        print(f"  failed: {failure}", file=sys.stderr)
    lat = np.array(latencies) if latencies else np.array([np.nan])
    return {
        "n": len(bodies),
        "ok": len(latencies),
        "p50": float(np.percentile(lat, 50)),
        "p95": float(np.percentile(lat, 95)),
        "max": float(lat.max()),
        "rps": len(latencies) / wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="bundle (default: the bundled model, else untrained)")
    parser.add_argument("--requests", type=int, default=16, help="requests per concurrency level (at least the level)")
    parser.add_argument("--levels", default="1,4,16", help="comma-separated client counts")
    parser.add_argument("--workers-jobs", type=int, default=2, help="server worker pool size")
    parser.add_argument("--song-runs", type=int, default=5, help="4-minute MP3 uploads (one client); 0: none")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]

    from genrekit.bundle import default_bundle_path

    with tempfile.TemporaryDirectory(prefix="genrekit-bench-") as tmp:
        tmp_path = Path(tmp)
        model = args.model
        if model is None:
            model = (
                default_bundle_path() if (default_bundle_path() / "card.json").is_file() else untrained_bundle(tmp_path)
            )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "GENREKIT_DATA_DIR": str(tmp_path),
            "GENREKIT_MAX_QUEUE": str(max(levels) * 2),
            "GENREKIT_JOB_TIMEOUT_S": "600",
        }
        command = [
            sys.executable,
            "-m",
            "genrekit",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--model",
            str(model),
            "--workers-jobs",
            str(args.workers_jobs),
            "--log-level",
            "warning",
        ]
        process = subprocess.Popen(command, env=env)
        try:
            wait_ready(base, process)
            card = httpx.get(f"{base}/api/v1/models").json()["data"][0]
            base_clip = music_like(CLIP_S, CLIP_SR)
            n_total = 1 + sum(max(args.requests, c) for c in levels)
            bodies = encode_variants(base_clip, CLIP_SR, n_total)
            warm = httpx.post(
                f"{base}/api/v1/classify", files={"file": ("warm.wav", bodies[0], "audio/wav")}, timeout=600
            )
            warm.raise_for_status()
            print(
                f"model {card['name']} {card['version']} ({card['model_type']}); {CLIP_S:g} s WAV clips "
                f"({len(bodies[0]) / 1e6:.2f} MB, {CLIP_SR} Hz); server worker pool {args.workers_jobs}; "
                f"{os.cpu_count()} CPU cores"
            )
            print(f"{'clients':>7} {'requests':>8} {'ok':>4} {'p50 s':>8} {'p95 s':>8} {'max s':>8} {'req/s':>7}")
            used = 1
            for concurrency in levels:
                n = max(args.requests, concurrency)
                stats = run_level(base, bodies[used : used + n], concurrency)
                used += n
                print(
                    f"{concurrency:>7} {stats['n']:>8} {stats['ok']:>4} {stats['p50']:>8.3f} {stats['p95']:>8.3f} "
                    f"{stats['max']:>8.3f} {stats['rps']:>7.2f}"
                )
            if args.song_runs > 0:
                song = mp3_variants(music_like(240.0, 44100, seed=7), 44100, args.song_runs, tmp_path)
                stats = run_level(base, song, 1, suffix="mp3", media_type="audio/mpeg")
                print(
                    f"4-minute MP3 ({len(song[0]) / 1e6:.1f} MB, 44.1 kHz stereo), 1 client, {stats['ok']}/{stats['n']} ok: "
                    f"p50 {stats['p50']:.3f} s, max {stats['max']:.3f} s (upload, decode, visuals, inference, storage)"
                )
            metrics = httpx.get(f"{base}/metrics").text
            total = re.search(r"^genrekit_inference_duration_seconds_sum (\S+)", metrics, re.M)
            count = re.search(r"^genrekit_inference_duration_seconds_count (\S+)", metrics, re.M)
            if total and count and float(count.group(1)) > 0:
                print(
                    f"server: mean decode + visuals + inference per job {float(total.group(1)) / float(count.group(1)):.3f} s "
                    f"over {int(float(count.group(1)))} jobs"
                )
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
