"""Cold start and upload latency of the serving path, next to the original musicnn, in one run.

Prints, each as the median of ``--runs`` fresh processes unless said otherwise:

* ``genrekit --version`` and ``genrekit --help``: wall time, and whether torch, the training
  stack, ONNX Runtime or SciPy were imported (target: nothing heavy, <= 0.3 s);
* a cold ``genrekit classify`` of a 4-minute MP3 (44.1 kHz stereo, 192 kb/s): imports, model
  load, decode, inference, output;
* the ORIGINAL musicnn 0.1.0 (librosa + TensorFlow, ``musicnn.extractor``, MSD_musicnn) on
  the same file in a fresh process, when ``MUSICNN_ORIG_PYTHON`` names a Python that has it
  (see ``tests/golden/musicnn/README.md`` for that throwaway environment), and the ratio
  (target: >= 10x);
* ``genrekit serve``: seconds from launch to ``/readyz`` answering 200 (target: <= 2 s);
* ``POST /api/v1/classify`` of distinct 4-minute MP3 uploads at 1 client: p50 / p95 of the
  answer (target p50 <= 0.5 s), then of the waveform + spectrogram (computed after the
  answer; the client asks for them as the web page does).

Usage::

    MUSICNN_ORIG_PYTHON=/tmp/tfenv/bin/python python benchmarks/bench_cold_start.py [--runs 3] [--uploads 6]

Needs only the base install (no torch). The machine's load average is printed first: on a
shared machine compare the ratios measured in one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_service import free_port, mp3_variants, music_like, wait_ready  # noqa: E402

ORIG_ENV = "MUSICNN_ORIG_PYTHON"
HEAVY_MODULES = ("torch", "genrekit.training", "sklearn", "librosa", "onnxruntime", "scipy", "fastapi")
SONG_SR = 44100  # Hz
SONG_S = 240.0  # seconds

PROBE = textwrap.dedent(
    """
    import sys, runpy
    sys.argv = ["genrekit", *sys.argv[1:]]
    try:
        runpy.run_module("genrekit", run_name="__main__")
    except SystemExit:
        pass
    heavy = sorted({m.split(".")[0] if not m.startswith("genrekit.") else ".".join(m.split(".")[:2])
                    for m in sys.modules} & set(HEAVY))
    print("HEAVY", ",".join(heavy), file=sys.stderr)
    """
)

ORIG_SCRIPT = textwrap.dedent(
    """
    import os, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from musicnn.extractor import extractor
    taggram, tags = extractor(sys.argv[1], model="MSD_musicnn", input_length=3, input_overlap=False, extract_features=False)[:2]
    print("TOP", tags[taggram.mean(axis=0).argmax()])
    """
)


def genrekit_cmd() -> list[str]:
    """The ``genrekit`` command of this Python (the console script, else ``python -m genrekit``)."""
    script = Path(sys.executable).with_name("genrekit")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "genrekit"]


def median_wall(cmd: list[str], runs: int) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Median wall time and median CPU time (user + system, s) of ``runs`` fresh processes,
    and the last one's output. On a loaded machine the CPU time is the better guide to what
    an idle machine would take (wall time there is between CPU time / cores and CPU time)."""
    times, cpu = [], []
    proc = None
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-1500:]}")
    assert proc is not None
    return statistics.median(times), statistics.median(cpu), proc


def process_cpu_s(pid: int) -> float:
    """CPU time (user + system, s) a running process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cli_figures(runs: int) -> None:
    probe = [sys.executable, "-c", f"HEAVY = {HEAVY_MODULES!r}\n" + PROBE]
    for flag in ("--version", "--help"):
        plain, cpu, _ = median_wall([*genrekit_cmd(), flag], runs)
        _, _, proc = median_wall([*probe, flag], 1)
        heavy = next((line.split(" ", 1)[1] for line in proc.stderr.splitlines() if line.startswith("HEAVY")), "?")
        print(f"genrekit {flag:9s}: median {plain:.3f} s (CPU {cpu:.3f} s); heavy modules imported: {heavy.strip() or 'none'}")


def classify_figures(song: Path, runs: int) -> float:
    ours, ours_cpu, proc = median_wall([*genrekit_cmd(), "classify", "--format", "json", str(song)], runs)
    print(f"cold genrekit classify (4 min MP3): median {ours:.2f} s (CPU {ours_cpu:.2f} s)")
    python = os.environ.get(ORIG_ENV)
    if not python:
        print(f"original musicnn: skipped (set {ORIG_ENV} to a Python with musicnn 0.1.0 + TensorFlow)")
        return ours
    orig, orig_cpu, proc = median_wall([python, "-c", ORIG_SCRIPT, str(song)], runs)
    print(f"cold original musicnn (same file, fresh process, MSD_musicnn): median {orig:.2f} s (CPU {orig_cpu:.2f} s)")
    print(f"ratio original / genrekit, cold 4 min MP3: {orig / ours:.1f}x wall, {orig_cpu / ours_cpu:.1f}x CPU")
    return ours


def service_figures(songs: list[bytes], runs: int) -> None:
    ready_times, ready_cpu = [], []
    with tempfile.TemporaryDirectory(prefix="genrekit-serve-") as data_dir:
        for run in range(runs):
            server, base, started = _launch(data_dir, full_timeline=True)
            try:
                wait_ready(base, server, poll_s=0.02)
                ready_times.append(time.perf_counter() - started)
                ready_cpu.append(process_cpu_s(server.pid))
            finally:
                _stop(server)
        print(f"genrekit serve ready (/readyz 200): median {statistics.median(ready_times):.2f} s "
              f"(CPU {statistics.median(ready_cpu):.2f} s) over {runs} launches (min {min(ready_times):.2f} s)")
        half = max(2, len(songs) // 2)
        for full_timeline, batch in ((False, songs[:half]), (True, songs[half:])):
            server, base, _ = _launch(data_dir, full_timeline=full_timeline)
            try:
                wait_ready(base, server, poll_s=0.05)
                answers, visuals = _uploads(base, batch)
            finally:
                _stop(server)
            first, rest = answers[0], sorted(answers[1:]) or [answers[0]]
            p95 = rest[min(len(rest) - 1, int(round(0.95 * (len(rest) - 1))))]
            what = "default (full timeline in the background)" if full_timeline else "GENREKIT_FULL_TIMELINE=false"
            print(f"upload 4 min MP3, 1 client, {what}: first {first:.2f} s; then p50 {statistics.median(rest):.2f} s, "
                  f"p95 {p95:.2f} s over {len(rest)} distinct uploads; waveform + spectrogram ready "
                  f"{statistics.median(visuals):.2f} s (median) after the answer")


def _launch(data_dir: str, *, full_timeline: bool) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    env = {**os.environ, "GENREKIT_DATA_DIR": data_dir, "GENREKIT_FULL_TIMELINE": str(full_timeline).lower()}
    started = time.perf_counter()
    server = subprocess.Popen(
        [*genrekit_cmd(), "serve", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return server, f"http://127.0.0.1:{port}", started


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=30)


def _uploads(base: str, songs: list[bytes]) -> tuple[list[float], list[float]]:
    """Answer latency of each upload, and how long its visuals took after the answer (s)."""
    answers, visuals = [], []
    with httpx.Client(base_url=base, timeout=300) as client:
        for index, body in enumerate(songs):
            t0 = time.perf_counter()
            response = client.post("/api/v1/classify", files={"file": (f"song{index}.mp3", body, "audio/mpeg")})
            t1 = time.perf_counter()
            response.raise_for_status()
            client.get(f"/api/v1/classifications/{response.json()['id']}/visuals").raise_for_status()
            answers.append(t1 - t0)
            visuals.append(time.perf_counter() - t1)
    return answers, visuals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per figure (median)")
    parser.add_argument("--uploads", type=int, default=8, help="distinct 4 min MP3 uploads (half with the full timeline off)")
    args = parser.parse_args()
    print(f"cold-start benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
          f"(a shared machine: compare ratios within this run)")
    cli_figures(args.runs)
    with tempfile.TemporaryDirectory(prefix="genrekit-cold-") as tmp:
        songs = mp3_variants(music_like(SONG_S, SONG_SR), SONG_SR, args.uploads + 1, Path(tmp))
        song = Path(tmp) / "song.mp3"
        song.write_bytes(songs[-1])
        classify_figures(song, args.runs)
        service_figures(songs[:-1], args.runs)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
