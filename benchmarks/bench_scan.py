"""Catalog throughput and cost: decode-only vs the scan engines, in one run; prints a Markdown table.

On ``--n`` 30-s clips made from the shared GTZAN FLAC clips (``../shared/data/gtzan-dev``),
encoded to MP3 with ffmpeg (FLAC copies where ffmpeg cannot encode MP3), it measures in one
run, so the ratios hold on a loaded machine:

* decode-only: every file fully decoded to 16 kHz mono (``genrekit.audio.load_audio``) by a
  pool of one process per core, songs/s;
* ``scan`` with the pipelined local engine (decoder processes + batched inference), into a
  fresh SQLite database, and the previous engine (one model per worker process) for reference;
* ``scan --engine ray`` (same two stages on Ray Data), where Ray is installed;
* the original musicnn (TensorFlow) peer, only where ``musicnn`` imports (skipped otherwise);
* a warm 4-minute MP3 (8 clips joined): ``Classifier.predict`` against its full decode;
* peak RSS of the decoder processes, of the inference process and of the calling process.

Cost per million songs = vCPU-hours × ``--vcpu-price`` (USD per vCPU-hour, an on-demand
x86 list price: an assumption, not a quote). Without a GPU the GPU rows are PROJECTED, never
measured: a GPU instance is assumed decode-bound (the model no longer limits), i.e. its
``--gpu-vcpus`` cores decode at this run's decode-only rate per core.

Usage::

    .venv/bin/python benchmarks/bench_scan.py [--n 120] [--skip-ray] [--out table.md]
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import datetime
import importlib.util
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from genrekit.audio import ffmpeg_exe, load_audio
from genrekit.batch.engine import BatchEngine, EngineConfig, available_cores, pipeline_budget
from genrekit.catalog import database
from genrekit.catalog.scan import scan_library
from genrekit.predict import Classifier

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gtzan-dev"


def make_clips(directory: Path, n: int) -> list[Path]:
    """``n`` 30-s MP3 clips (FLAC copies if ffmpeg cannot encode MP3) from the shared GTZAN clips."""
    sources = sorted(SHARED.glob("*/*/*.flac"))
    if not sources:
        raise SystemExit(f"no shared clips under {SHARED}")
    out: list[Path] = []
    ffmpeg = ffmpeg_exe()
    for index in range(n):
        source = sources[(index * 7) % len(sources)]
        target = directory / f"{index:04d}-{source.stem}.mp3"
        done = subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(source), "-c:a", "libmp3lame", "-b:a", "192k",
                               str(target)], capture_output=True)
        if done.returncode != 0:
            target = target.with_suffix(".flac")
            shutil.copyfile(source, target)
        out.append(target)
    return out


def _decode(path: str) -> int:
    return int(load_audio(path, sr=16000, mono=True)[0].shape[-1])


def decode_only(files: list[Path], cores: int) -> float:
    """Songs/s of full decodes, one process per core."""
    ctx = multiprocessing.get_context("spawn")
    with futures.ProcessPoolExecutor(cores, mp_context=ctx) as pool:
        list(pool.map(_decode, [str(files[0])] * cores))  # start the processes
        start = time.perf_counter()
        list(pool.map(_decode, [str(f) for f in files]))
        return len(files) / (time.perf_counter() - start)


class RssSampler:
    """Peak RSS (bytes) of this process and of each of its children, sampled every 0.2 s."""

    def __init__(self) -> None:
        self.main = 0
        self.children: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.2):
            self.main = max(self.main, me.memory_info().rss)
            for child in me.children(recursive=True):
                try:
                    self.children[child.pid] = max(self.children.get(child.pid, 0), child.memory_info().rss)
                except psutil.Error:
                    continue

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def scan_rate(library: Path, runner_cm: object, db_dir: Path, name: str) -> tuple[float, int, RssSampler]:
    """Songs/s of ``scan_library`` into a fresh SQLite database with the given runner."""
    url = f"sqlite:///{db_dir / (name + '.sqlite')}"
    sessions = database.open_database(url)[1]
    model = database.model_identity_of(None)
    space = database.embedding_space_of(None)
    with RssSampler() as rss, runner_cm as runner:  # type: ignore[attr-defined]
        summary = scan_library(library, sessions=sessions, runner=runner.run, model=model, embedding_space=space)
    return summary.songs_per_s, summary.n_failed, rss


def warm_long(files: list[Path], directory: Path, threads: int) -> tuple[float, float]:
    """(median predict s, median full decode s) of a 4-minute MP3 made of 8 clips."""
    listing = directory / "list.txt"
    listing.write_text("".join(f"file '{f}'\n" for f in files[:8]))
    song = directory / "long.mp3"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c:a", "libmp3lame", "-b:a", "192k", str(song)], check=True)
    classifier = Classifier.load(threads=threads)
    classifier.predict(str(song))
    predict, decode = [], []
    for _ in range(5):
        start = time.perf_counter()
        classifier.predict(str(song))
        predict.append(time.perf_counter() - start)
        start = time.perf_counter()
        load_audio(str(song), sr=16000, mono=True)
        decode.append(time.perf_counter() - start)
    return statistics.median(predict), statistics.median(decode)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120, help="30-s clips (default 120)")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-old", action="store_true", help="skip the previous one-model-per-worker engine")
    parser.add_argument("--vcpu-price", type=float, default=0.0425, help="USD per vCPU-hour (assumed list price)")
    parser.add_argument("--gpu-price", type=float, default=1.006, help="USD per hour of the projected GPU instance")
    parser.add_argument("--gpu-vcpus", type=int, default=4, help="vCPUs of the projected GPU instance")
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = parser.parse_args()
    cores = available_cores()
    load_before = os.getloadavg()[0]
    rows: list[tuple[str, float | None, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        root = Path(tmp)
        library = root / "library"
        library.mkdir()
        files = make_clips(library, args.n)
        kind = files[0].suffix[1:].upper()
        decode_rate = decode_only(files, cores)
        rows.append((f"decode only ({cores} processes)", decode_rate, "full decode to 16 kHz mono"))
        workers, threads = pipeline_budget(cores)
        config = EngineConfig(pipeline=True, predict_options={})
        rate, failed, rss = scan_rate(library, BatchEngine(config), root, "pipeline")
        children = sorted(rss.children.values(), reverse=True)  # the inference process holds the most
        rows.append((f"scan, pipelined local ({workers} decoder + {threads} inference threads)", rate,
                     f"{failed} failed; peak RSS: inference process {children[0] / 1e6:.0f} MB, "
                     f"decoders {max(children[1:], default=0) / 1e6:.0f} MB each, "
                     f"calling process {rss.main / 1e6:.0f} MB"))
        if threads < cores:
            over = EngineConfig(pipeline=True, workers=workers, threads=cores, predict_options={})
            rate_over, failed, _ = scan_rate(library, BatchEngine(over), root, "over")
            rows.append((f"scan, pipelined, {workers} decoder + {cores} threads (over the budget)", rate_over,
                         f"{failed} failed"))
        if not args.skip_old:
            old = EngineConfig(workers=cores)
            rate_old, failed, rss = scan_rate(library, BatchEngine(old), root, "old")
            rows.append((f"scan, previous engine ({cores} workers, one model each)", rate_old,
                         f"{failed} failed; peak RSS each worker {max(rss.children.values(), default=0) / 1e6:.0f} MB"))
        if not args.skip_ray and importlib.util.find_spec("ray") is not None:
            from genrekit.batch.ray_engine import RayRunner

            rate_ray, failed, _ = scan_rate(library, RayRunner(EngineConfig()), root, "ray")
            rows.append(("scan --engine ray (local instance, same two stages)", rate_ray, f"{failed} failed"))
        else:
            rows.append(("scan --engine ray", None, "skipped: Ray is not installed" if not args.skip_ray else "skipped"))
        if importlib.util.find_spec("musicnn") is not None:
            rows.append(("original musicnn peer", None, "installed but not run by this script: see bench_classify.py"))
        else:
            rows.append(("original musicnn peer", None, "skipped: musicnn/TensorFlow not installed"))
        predict_s, full_decode_s = warm_long(files, root, threads=cores)
    load_after = os.getloadavg()[0]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"`benchmarks/bench_scan.py --n {args.n}`, {stamp}: {platform.machine()} {platform.processor() or ''}, "
        f"{cores} cores, no GPU, load average {load_before:.1f} before / {load_after:.1f} after; "
        f"{args.n} 30-s {kind} clips from gtzan-dev.",
        "",
        "| stage | songs/s | × decode-only | vCPU-h per M songs | USD per M songs | notes |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, rate, note in rows:
        if rate is None:
            lines.append(f"| {name} | – | – | – | – | {note} |")
            continue
        vcpu_h = 1e6 / rate / 3600 * cores
        lines.append(f"| {name} | {rate:.2f} | {rate / decode_rate:.2f} | {vcpu_h:,.0f} | "
                     f"{vcpu_h * args.vcpu_price:,.0f} | {note} |")
    per_core = decode_rate / cores
    gpu_rate = per_core * args.gpu_vcpus
    gpu_cost = 1e6 / gpu_rate / 3600 * args.gpu_price
    lines.append(f"| **PROJECTED, not measured**: GPU instance, {args.gpu_vcpus} vCPUs decoding, model on the GPU | "
                 f"{gpu_rate:.2f} | {gpu_rate / decode_rate:.2f} | – | {gpu_cost:,.0f} | "
                 f"assumes decode-bound at this run's {per_core:.2f} songs/s per core, ${args.gpu_price}/h |")
    lines += [
        "",
        f"Warm 4-minute MP3 (8 clips joined, default 4 spread windows), median of 5: predict {predict_s * 1000:.0f} ms, "
        f"full decode {full_decode_s * 1000:.0f} ms: **{predict_s / full_decode_s:.2f}× its full decode**.",
        f"CPU cost at ${args.vcpu_price}/vCPU-hour (assumed on-demand list price).",
    ]
    table = "\n".join(lines)
    print(table)
    if args.out is not None:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
