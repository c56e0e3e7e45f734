"""Throughput of ``genrekit scan`` on real songs: prints figures, asserts nothing.

Builds a library of links to the first ``--n-songs`` clips of ``../shared/data`` (GTZAN-dev
and the extra pool, FLAC and Ogg, 20-30 s each; nothing is copied or committed) and scans
it into a fresh SQLite database with the default model, in a child process per
configuration:

* ``local1`` / ``local2``: the batch engine with ``--workers 1`` / ``--workers 2``;
* ``ray2``: Ray Data on a local instance with 2 actors;
* ``floor1`` / ``floor2``: the same engine and files with the network replaced by a model
  that answers instantly (:mod:`benchmarks.null_model`): reading, hashing, decoding,
  windowing, checks and storage only. Decoding is the floor; the scan's throughput as a
  fraction of the floor's (same worker count) says how much the model costs on top.

For each: songs/s over the whole run including worker start and model loading
(``end-to-end``), songs/s between the first and the last result (``steady``), and the
peak resident memory of the child's whole process tree (sampled every 0.2 s with psutil;
Ray's own daemons included for ``ray2``).

The machine is shared (2 cores, other jobs running): compare ratios from one run.

Usage::

    .venv/bin/python -m benchmarks.bench_catalog [--n-songs 60] [--configs local1,local2,ray2,floor1,floor2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("GENREKIT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
CONFIGS = ("floor1", "local1", "floor2", "local2", "ray2")
SAMPLE_S = 0.2  # seconds between memory samples


def build_library(data: Path, n_songs: int, target: Path) -> int:
    """Links to ``n_songs`` clips, alternating between the data sets, in genre folders."""
    pools = [sorted((data / "gtzan-dev").rglob("*.*")), sorted((data / "extra-pool").rglob("*.*"))]
    pools = [[p for p in pool if p.suffix.lower() in (".flac", ".ogg", ".wav", ".mp3")] for pool in pools]
    chosen: list[Path] = []
    while len(chosen) < n_songs and any(pools):
        for pool in pools:
            if pool and len(chosen) < n_songs:
                chosen.append(pool.pop(len(pool) * 7 // 13))  # spread over the genres
    for index, source in enumerate(chosen):
        folder = target / source.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        os.symlink(source, folder / f"{index:03d}-{source.name}")
    return len(chosen)


def child(config: str, library: str, out: str) -> None:
    """Scan ``library`` in one configuration and write the timings as JSON to ``out``."""
    from genrekit.batch.engine import BatchEngine, EngineConfig, native_stderr_silenced, registered_model_modules
    from genrekit.catalog import database
    from genrekit.catalog.scan import scan_library

    work = Path(out).parent
    bundle = None
    if config.startswith("floor"):
        from benchmarks.null_model import save_decode_floor_bundle

        bundle = str(save_decode_floor_bundle(work / f"floor-bundle-{config}"))
    workers = int(config[-1])
    engine_config = EngineConfig(model=bundle, workers=workers, preload=registered_model_modules())
    _, sessions = database.open_database(f"sqlite:///{work / (Path(out).stem + '.sqlite')}")  # one database per run
    model = database.model_identity_of(bundle)
    times: list[float] = []
    start = time.perf_counter()

    def timed(runner):  # noqa: ANN001, ANN202 - wraps the engine's run
        def run(jobs):  # noqa: ANN001, ANN202
            for outcome in runner(jobs):
                times.append(time.perf_counter())
                yield outcome

        return run

    with native_stderr_silenced():
        if config.startswith("ray"):
            from genrekit.batch.ray_engine import RayRunner

            runner_cm = RayRunner(engine_config)
        else:
            runner_cm = BatchEngine(engine_config)
        with runner_cm as runner:
            summary = scan_library(library, sessions=sessions, runner=timed(runner.run), model=model)
    n = len(times)
    result = {
        "config": config,
        "n_songs": n,
        "n_failed": summary.n_failed,
        "end_to_end_songs_per_s": n / (times[-1] - start) if n else 0.0,
        "steady_songs_per_s": (n - 1) / (times[-1] - times[0]) if n > 1 else 0.0,
        "wall_s": time.perf_counter() - start,
    }
    Path(out).write_text(json.dumps(result))


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (bytes)."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def measure(config: str, library: Path, work: Path, index: int) -> dict[str, float]:
    out = work / f"{config}-{index}.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])}
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_catalog", "--child", config, "--library", str(library), "--out", str(out)],
        cwd=REPO_ROOT, env=env,
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss_bytes(process.pid))
        time.sleep(SAMPLE_S)
    if process.returncode != 0:
        raise SystemExit(f"{config} failed with exit code {process.returncode}")
    result = json.loads(out.read_text())
    result["peak_rss_mb"] = peak / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-songs", type=int, default=60)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--library", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.library, args.out)
        return
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        work = Path(tmp)
        n_songs = build_library(args.data, args.n_songs, work / "library")
        if n_songs == 0:
            raise SystemExit(f"no clips under {args.data} (set --data or GENREKIT_SHARED_DATA)")
        print(f"{n_songs} songs from {args.data}; {os.cpu_count()} CPUs (shared machine: compare ratios)")
        results = {}
        for index, config in enumerate(args.configs.split(",")):
            results[config] = measure(config, work / "library", work, index)
            r = results[config]
            print(f"{config:7s} {r['n_songs']:3d} songs ({r['n_failed']} failed)  end-to-end {r['end_to_end_songs_per_s']:6.2f} songs/s"
                  f"  steady {r['steady_songs_per_s']:6.2f} songs/s  wall {r['wall_s']:6.1f} s  peak RSS {r['peak_rss_mb']:7.0f} MB",
                  flush=True)
        for workers in ("1", "2"):
            scan, floor = results.get(f"local{workers}"), results.get(f"floor{workers}")
            if scan and floor and floor["steady_songs_per_s"] > 0:
                fraction = scan["steady_songs_per_s"] / floor["steady_songs_per_s"]
                print(f"workers={workers}: scan / decode floor = {fraction:.0%} (steady songs/s)")
        ray, local = results.get("ray2"), results.get("local2")
        if ray and local and local["steady_songs_per_s"] > 0:
            print(f"ray2 / local2 = {ray['steady_songs_per_s'] / local['steady_songs_per_s']:.0%} (steady songs/s)")


if __name__ == "__main__":
    main()
