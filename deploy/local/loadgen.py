"""A bounded load generator for a genrekit deployment (asyncio + httpx), loopback only.

Each of N clients loops for a fixed time over a mix of requests: uploads of real 30-s clips
(``POST /api/v1/classify``, every upload a distinct file so none is answered from the cache),
result reads, history, search and similar. It records the latency of every request per
endpoint, the statuses, every accepted upload's id, and the CPU and memory of each replica.

    python deploy/local/loadgen.py --url http://127.0.0.1:8080 --key gk_... --clients 8 --duration 30

The clips come from ``GENREKIT_LOAD_CLIPS`` (a folder of audio, searched recursively),
else the shared GTZAN development clips, else 30-s synthetic tones.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import json
import os
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import soundfile as sf

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_CLIPS = REPO_ROOT.parent / "shared" / "data" / "gtzan-dev"
CLIP_SR = 22050  # Hz: the clips are sent as 16-bit mono WAV at this rate
CLIP_SECONDS = 30.0  # length of every clip sent
# Share of each action in the mix (uploads first: reads need accepted ids).
MIX = {"upload": 0.4, "result": 0.25, "history": 0.15, "search": 0.1, "similar": 0.1}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def load_clips(n: int = 12, folder: Path | None = None) -> list[np.ndarray]:
    """Up to ``n`` clips as int16 mono arrays of ``CLIP_SECONDS`` at ``CLIP_SR`` Hz."""
    from genrekit.audio import load_audio

    folder = folder or (Path(os.environ["GENREKIT_LOAD_CLIPS"]) if os.environ.get("GENREKIT_LOAD_CLIPS") else SHARED_CLIPS)
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".flac", ".wav", ".mp3", ".ogg"}) if folder.is_dir() else []
    random.Random(0).shuffle(paths)
    clips = []
    target = int(CLIP_SECONDS * CLIP_SR)
    for path in paths[:n]:
        y, _ = load_audio(path, sr=CLIP_SR)
        y = np.resize(np.asarray(y, dtype=np.float32), target)
        clips.append((np.clip(y, -1, 1) * 32767).astype(np.int16))
    if not clips:
        t = np.arange(target) / CLIP_SR
        for i in range(n):
            tone = 0.3 * np.sin(2 * np.pi * (110 * (i + 1)) * t) * (1 + np.sin(2 * np.pi * 2 * t))
            clips.append((tone * 32767).astype(np.int16))
    return clips


class UniqueWavs:
    """WAV files from the clips, each made distinct by a counter written into its first samples."""

    def __init__(self, clips: list[np.ndarray]) -> None:
        self.clips = clips
        self._counter = itertools.count(int(time.time() * 1000) % 1_000_000_000)
        self._lock = threading.Lock()

    def next(self) -> tuple[str, bytes]:
        """A file name and the bytes of a new, never-sent WAV."""
        with self._lock:
            n = next(self._counter)
        y = self.clips[n % len(self.clips)].copy()
        y[0], y[1] = n & 0x7FFF, (n >> 15) & 0x7FFF
        buffer = io.BytesIO()
        sf.write(buffer, y, CLIP_SR, format="WAV", subtype="PCM_16")
        return f"load-{n}.wav", buffer.getvalue()


@dataclass
class Sample:
    """One request: its endpoint, status (0: no answer), latency (s), error text, and when it
    started (``time.monotonic()`` seconds)."""

    endpoint: str
    status: int
    latency_s: float
    error: str = ""
    started_at: float = 0.0


@dataclass
class ProcessUsage:
    """CPU and memory of one process, sampled while the load ran."""

    name: str
    pid: int
    cpu_percent_mean: float = 0.0  # of one core
    rss_peak_mb: float = 0.0
    samples: int = 0


class UsageSampler(threading.Thread):
    """Samples ``/proc/<pid>`` of the given processes every ``interval_s`` seconds."""

    def __init__(self, processes: dict[str, int], interval_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.usage = {name: ProcessUsage(name, pid) for name, pid in processes.items()}
        self.interval_s = interval_s
        self._stop_event = threading.Event()
        self._ticks = os.sysconf("SC_CLK_TCK")

    def _read(self, pid: int) -> tuple[float, float] | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return None
        cpu_s = (int(fields[11]) + int(fields[12])) / self._ticks
        return cpu_s, rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20

    def run(self) -> None:
        last = {name: (time.monotonic(), self._read(u.pid)) for name, u in self.usage.items()}
        totals: dict[str, float] = defaultdict(float)
        spans: dict[str, float] = defaultdict(float)
        while not self._stop_event.wait(self.interval_s):
            for name, usage in self.usage.items():
                now, reading = time.monotonic(), self._read(usage.pid)
                then, previous = last[name]
                if reading is not None:
                    usage.rss_peak_mb = max(usage.rss_peak_mb, reading[1])
                    usage.samples += 1
                    if previous is not None:
                        totals[name] += reading[0] - previous[0]
                        spans[name] += now - then
                        usage.cpu_percent_mean = 100.0 * totals[name] / spans[name]
                last[name] = (now, reading)

    def stop(self) -> dict[str, ProcessUsage]:
        """Stop sampling; the usage per process."""
        self._stop_event.set()
        self.join(timeout=5)
        return self.usage


@dataclass
class LoadResult:
    """Everything one run measured."""

    clients: int
    duration_s: float
    samples: list[Sample] = field(default_factory=list)
    accepted_ids: list[str] = field(default_factory=list)
    usage: dict[str, ProcessUsage] = field(default_factory=dict)

    def summary(self) -> dict:
        """Throughput, errors and p50/p95/p99 latency per endpoint, as JSON-ready values."""
        by_endpoint: dict[str, list[Sample]] = defaultdict(list)
        for sample in self.samples:
            by_endpoint[sample.endpoint].append(sample)
        endpoints = {}
        for endpoint, samples in sorted(by_endpoint.items()):
            latencies = np.array([s.latency_s for s in samples])
            errors = [s for s in samples if not 200 <= s.status < 300]
            endpoints[endpoint] = {
                "requests": len(samples),
                "per_s": round(len(samples) / self.duration_s, 2),
                "errors": len(errors),
                "statuses": dict(Counter(str(s.status) for s in samples)),
                "p50_s": round(float(np.percentile(latencies, 50)), 3),
                "p95_s": round(float(np.percentile(latencies, 95)), 3),
                "p99_s": round(float(np.percentile(latencies, 99)), 3),
            }
        n_errors = sum(1 for s in self.samples if not 200 <= s.status < 300)
        return {
            "clients": self.clients,
            "duration_s": round(self.duration_s, 1),
            "requests": len(self.samples),
            "requests_per_s": round(len(self.samples) / self.duration_s, 2),
            "uploads_accepted": len(self.accepted_ids),
            "uploads_per_s": round(len(self.accepted_ids) / self.duration_s, 3),
            "errors": n_errors,
            "error_rate": round(n_errors / max(1, len(self.samples)), 4),
            "error_examples": sorted({f"{s.endpoint} {s.status} {s.error[:120]}" for s in self.samples if s.error})[:8],
            "endpoints": endpoints,
            "processes": {
                name: {"cpu_percent_mean": round(u.cpu_percent_mean, 1), "rss_peak_mb": round(u.rss_peak_mb, 1)}
                for name, u in self.usage.items()
            },
        }


def check_loopback(url: str) -> None:
    """Refuse any target but this machine's loopback."""
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise SystemExit(f"loadgen.py only runs against 127.0.0.1, not {host!r}")


async def _client(
    http: httpx.AsyncClient, wavs: UniqueWavs, result: LoadResult, deadline: float, rng: random.Random
) -> None:
    actions, weights = list(MIX), list(MIX.values())
    while time.monotonic() < deadline:
        action = rng.choices(actions, weights)[0] if result.accepted_ids else "upload"
        started = time.monotonic()
        try:
            if action == "upload":
                name, data = wavs.next()
                response = await http.post("/api/v1/classify", files={"file": (name, data, "audio/wav")})
                if 200 <= response.status_code < 300:
                    result.accepted_ids.append(response.json()["id"])
            elif action == "result":
                response = await http.get(f"/api/v1/classifications/{rng.choice(result.accepted_ids)}")
            elif action == "history":
                response = await http.get("/api/v1/classifications", params={"limit": 20})
            elif action == "search":
                response = await http.get("/api/v1/search", params={"genre": rng.choice(["rock", "jazz", "blues", "pop"])})
            else:
                response = await http.get(f"/api/v1/classifications/{rng.choice(result.accepted_ids)}/similar", params={"k": 5})
            error = "" if response.status_code < 400 else response.text[:200]
            result.samples.append(Sample(action, response.status_code, time.monotonic() - started, error, started))
        except httpx.HTTPError as exc:
            result.samples.append(Sample(action, 0, time.monotonic() - started, f"{type(exc).__name__}: {exc}", started))
            await asyncio.sleep(0.2)


async def run_load(
    url: str,
    key: str,
    *,
    clients: int,
    duration_s: float,
    clips: list[np.ndarray] | None = None,
    processes: dict[str, int] | None = None,
    seed: int = 0,
) -> LoadResult:
    """Run ``clients`` concurrent clients against ``url`` for ``duration_s`` seconds.

    ``processes`` (name to pid) are sampled for CPU and memory while the load runs.
    """
    check_loopback(url)
    wavs = UniqueWavs(clips if clips is not None else load_clips())
    result = LoadResult(clients, duration_s)
    sampler = UsageSampler(processes or {})
    sampler.start()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    timeout = httpx.Timeout(180.0, connect=10.0)
    started = time.monotonic()
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=timeout
    ) as http:
        deadline = started + duration_s
        await asyncio.gather(*(_client(http, wavs, result, deadline, random.Random(seed + i)) for i in range(clients)))
    result.duration_s = time.monotonic() - started
    result.usage = sampler.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line: one run, its summary printed as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="base URL (nginx's), on 127.0.0.1")
    parser.add_argument("--key", required=True, help="an API key with no rate limit (keys create --rate-limit 0)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds")
    parser.add_argument("--pid", action="append", default=[], metavar="NAME=PID", help="a process to sample")
    args = parser.parse_args(argv)
    processes = {item.split("=", 1)[0]: int(item.split("=", 1)[1]) for item in args.pid}
    result = asyncio.run(run_load(args.url, args.key, clients=args.clients, duration_s=args.duration, processes=processes))
    json.dump(result.summary(), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
