"""Print CPU inference speed of the ported musicnn models (ms per 3 s patch).

Usage: ``.venv/bin/python scripts/bench_musicnn.py [--threads 2] [--batch 32] [--repeats 5]``.
Reports the median over repeats of one batched forward pass under ``torch.inference_mode``,
after one warm-up pass, as wall-clock time and as this process's CPU time (with one thread
the CPU time is what an idle core would take, even when other jobs share the machine);
also the musicnn input computation for 2.992 s windows.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from genrekit.features.modules import MusicnnInput
from genrekit.models.heads import WINDOW_LENGTH
from genrekit.models.musicnn import N_FRAMES, N_MELS, PRETRAINED_CONFIGS, load_pretrained


def _median_s(fn, repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds of ``fn()``."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    patches = torch.randn(args.batch, N_FRAMES, N_MELS)
    windows = torch.randn(args.batch, WINDOW_LENGTH) * 0.1
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}")
    with torch.inference_mode():
        frontend = MusicnnInput()
        wall, cpu = _median_s(lambda: frontend(windows), args.repeats)
        print(f"musicnn input  {1000 * wall / args.batch:7.2f} ms per window (CPU time {1000 * cpu / args.batch:.2f} ms)")
        for name in PRETRAINED_CONFIGS:
            model = load_pretrained(name)
            wall, cpu = _median_s(lambda m=model: m(patches), args.repeats)
            print(f"{name:13s} {1000 * wall / args.batch:7.2f} ms per patch (CPU time {1000 * cpu / args.batch:.2f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
