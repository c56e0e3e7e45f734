"""Fault and abuse scenarios against a running :class:`localstack.Stack`, each returning its figures.

``reliability.py`` runs them all (``make reliability``); ``tests/reliability`` runs a short,
bounded part of them. Every scenario talks to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import UniqueWavs, load_clips, run_load  # noqa: E402
from localstack import Replica, Stack, StackError  # noqa: E402

PROBLEM = "application/problem+json"


def _client(stack: Stack, key: str | None = None, timeout_s: float = 120.0) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key or stack.admin_key}"}
    return httpx.Client(base_url=stack.url, headers=headers, timeout=timeout_s)


def peak_rss_mb(pid: int | None) -> float | None:
    """The peak resident memory (VmHWM, MiB) of a process so far, or None."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def unreadable_ids(stack: Stack, ids: list[str]) -> list[str]:
    """The accepted ids that nginx cannot serve back now (each asked until a definite answer)."""
    missing = []
    with _client(stack) as http:
        for classification_id in ids:
            for _ in range(3):
                response = http.get(f"/api/v1/classifications/{classification_id}")
                if response.status_code in (200, 404):
                    break
                time.sleep(1)
            if response.status_code != 200:
                missing.append(classification_id)
    return missing


def background_backlog(stack: Stack, timeout_s: float = 180.0, stall_s: float = 20.0) -> dict:
    """Wait until the replicas' background work (full timelines, visuals) has released every
    upload it holds in the spool, at most ``timeout_s``, or until the count has not moved for
    ``stall_s`` (files a killed replica left behind never go); how many were held, how long
    they took to go, and how many are left. Empty when the replicas' TMPDIR is not their own."""
    if stack.tmpdir is None:
        return {}

    def pending() -> int:
        return sum(1 for p in stack.tmpdir.glob("genrekit-*.audio"))

    started = last_change = time.monotonic()
    first = previous = pending()
    while previous and time.monotonic() - started < timeout_s and time.monotonic() - last_change < stall_s:
        time.sleep(1)
        now = pending()
        if now != previous:
            previous, last_change = now, time.monotonic()
    return {
        "files_held": first,
        "seconds_to_drain": round(last_change - started, 1) if not previous else None,
        "files_left": previous,
    }


def _failures(result) -> dict[str, int]:
    return dict(Counter(f"{s.endpoint} {s.status or s.error.split(':')[0]}" for s in result.samples if not 200 <= s.status < 300))


def load_levels(stack: Stack, levels: list[int], duration_s: float, clips: list[np.ndarray]) -> dict:
    """The load mix at each number of clients, on all replicas and then on one (nginx reloaded)."""
    figures: dict = {}
    for label, replicas in (("two_replicas", stack.replicas), ("one_replica", stack.replicas[:1])):
        stack.route_to(replicas)
        figures[label] = {}
        for clients in levels:
            processes = {r.name: r.pid for r in replicas if r.pid}
            result = asyncio.run(
                run_load(stack.url, stack.admin_key, clients=clients, duration_s=duration_s, clips=clips, processes=processes)
            )
            summary = result.summary()
            summary["unreadable_accepted_uploads"] = len(unreadable_ids(stack, result.accepted_ids))
            summary["background_backlog_after"] = background_backlog(stack)
            figures[label][str(clients)] = summary
    stack.route_to(stack.replicas)
    return figures


def _during_load(stack: Stack, clients: int, duration_s: float, clips, action, at_s: float) -> tuple:
    """Run the load and call ``action()`` ``at_s`` seconds into it (in a thread); both results."""
    outcome: dict = {}

    def fire() -> None:
        time.sleep(at_s)
        outcome["action"] = action()

    thread = threading.Thread(target=fire)
    thread.start()
    processes = {r.name: r.pid for r in stack.replicas if r.pid}
    result = asyncio.run(run_load(stack.url, stack.admin_key, clients=clients, duration_s=duration_s, clips=clips, processes=processes))
    thread.join()
    return result, outcome.get("action")


def kill_replica_under_load(stack: Stack, clients: int, duration_s: float, clips, restart: bool = True) -> dict:
    """``kill -9`` the last replica a third into the load; every accepted upload must stay readable."""
    victim = stack.replicas[-1]
    result, killed_at = _during_load(
        stack, clients, duration_s, clips, lambda: (stack.kill_replica(victim), time.monotonic())[1], duration_s / 3
    )
    missing = unreadable_ids(stack, result.accepted_ids)
    summary = result.summary()
    if restart:
        stack.start_replica(victim)
    return {
        "clients": clients,
        "duration_s": summary["duration_s"],
        "requests": summary["requests"],
        "uploads_accepted": summary["uploads_accepted"],
        "lost_accepted_uploads": len(missing),
        "failed_requests": summary["errors"],
        "failures": _failures(result),
        "error_examples": summary["error_examples"],
        "replica_restarted": restart,
    }


def restart_database_under_load(stack: Stack, clients: int, duration_s: float, clips, down_s: float = 5.0) -> dict:
    """Stop PostgreSQL (fast shutdown) a third into the load, start it ``down_s`` s later; the
    replicas must answer 503 problem+json meanwhile and recover by themselves (the last 503
    ``database-unavailable`` is timed from the restart; ``ready_again_after_restart_s`` is
    only an upper bound, polled once the load has ended)."""
    assert stack.postgres is not None
    pids_before = [r.pid for r in stack.replicas]
    window: dict = {}

    def restart() -> None:
        window["stopped"] = time.monotonic()
        stack.postgres.stop("fast")
        time.sleep(down_s)
        stack.postgres.start()
        window["started"] = time.monotonic()

    probes: list[tuple[int, str]] = []

    def probe() -> None:
        """Requests straight to a replica while the database is down: the answer's shape."""
        time.sleep(duration_s / 3 + 1.0)
        with httpx.Client(headers={"Authorization": f"Bearer {stack.admin_key}"}, timeout=30) as http:
            for replica in stack.replicas:
                response = http.get(f"{replica.url}/api/v1/classifications")
                probes.append((response.status_code, response.headers.get("content-type", "")))

    prober = threading.Thread(target=probe)
    prober.start()
    result, _ = _during_load(stack, clients, duration_s, clips, restart, duration_s / 3)
    prober.join()
    recovered_s = None
    deadline = time.monotonic() + 60
    with _client(stack) as http:
        while time.monotonic() < deadline:
            if all(http.get(f"{r.url}/readyz").status_code == 200 for r in stack.replicas):
                recovered_s = round(time.monotonic() - window["started"], 2)
                break
            time.sleep(0.5)
    missing = unreadable_ids(stack, result.accepted_ids)
    summary = result.summary()
    outage = [s for s in result.samples if s.status == 503 and "database-unavailable" in s.error]
    after = [s for s in result.samples if s.started_at >= window["started"]]
    return {
        "clients": clients,
        "database_down_s": round(window["started"] - window["stopped"], 1),
        "database_unavailable_answers": len(outage),
        "last_database_unavailable_after_restart_s": round(max((s.started_at + s.latency_s for s in outage), default=window["started"]) - window["started"], 2),
        "requests_after_restart": len(after),
        "failed_after_restart": sum(1 for s in after if not 200 <= s.status < 300),
        "requests": summary["requests"],
        "uploads_accepted": summary["uploads_accepted"],
        "lost_accepted_uploads": len(missing),
        "failures": _failures(result),
        "answers_while_down": [f"{status} {ctype}" for status, ctype in probes],
        "ready_again_after_restart_s": recovered_s,
        "replicas_restarted": [r.pid for r in stack.replicas] != pids_before,
    }


# -- abuse ---------------------------------------------------------------------------------


def wav_header(*, sample_rate: int, channels: int, bits: int, data_bytes: int, riff_bytes: int | None = None) -> bytes:
    """A canonical 44-byte PCM WAV header announcing ``data_bytes`` of samples."""
    block = channels * bits // 8
    return (
        b"RIFF" + struct.pack("<I", riff_bytes if riff_bytes is not None else (36 + data_bytes) & 0xFFFFFFFF) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, (sample_rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
        + b"data" + struct.pack("<I", data_bytes & 0xFFFFFFFF)
    )


def nested_mp4(depth: int) -> bytes:
    """An MP4-like file: ``ftyp`` then ``depth`` boxes nested inside each other."""
    payload = b"\0" * 64
    for _ in range(depth):
        payload = struct.pack(">I", 8 + len(payload)) + b"moov" + payload
    return struct.pack(">I", 20) + b"ftypisom" + b"\0\0\0\0isom" + payload


def nested_matroska(depth: int) -> bytes:
    """An EBML (Matroska) header followed by ``depth`` nested unknown-size elements."""
    header = bytes.fromhex("1A45DFA3") + bytes([0x80 | 0x0F]) + bytes.fromhex("4282") + bytes([0x88]) + b"matroska" + b"\0" * 4
    return header + (bytes.fromhex("18538067") + bytes.fromhex("01FFFFFFFFFFFFFF")) * depth


HOSTILE_FILES = {
    "hours announced in 44 bytes (data size 4 GiB)": wav_header(sample_rate=8000, channels=1, bits=16, data_bytes=0xFFFFFFF0)
    + np.random.default_rng(0).integers(-8000, 8000, 4000, dtype=np.int16).tobytes(),
    "absurd sample rate (4,294,967,295 Hz)": wav_header(sample_rate=0xFFFFFFFF, channels=1, bits=16, data_bytes=4000) + b"\0\1" * 2000,
    "absurd channel count (65,535)": wav_header(sample_rate=44100, channels=65535, bits=16, data_bytes=131070) + b"\1\0" * 65535,
    "zero sample rate": wav_header(sample_rate=0, channels=1, bits=16, data_bytes=4000) + b"\0\1" * 2000,
    "MP4 with 5,000 nested boxes": nested_mp4(5000),
    "Matroska with 20,000 nested elements": nested_matroska(20000),
    "truncated FLAC header": b"fLaC\0\0\0\x22" + b"\xff" * 20,
}

def hours_in_small_flac(hours: float = 2.0, sr: int = 8000) -> bytes:
    """A FLAC that really decodes to ``hours`` of audio (a constant level: a few hundred KB)."""
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    block = np.full(sr * 60, 1000, dtype=np.int16)
    with sf.SoundFile(buffer, "w", samplerate=sr, channels=1, format="FLAC", subtype="PCM_16") as out:
        for _ in range(int(hours * 60)):
            out.write(block)
    return buffer.getvalue()


BAD_NAMES = {
    "../ traversal": b"../../../../etc/passwd",
    "backslash traversal": b"..\\..\\windows\\system32\\x.wav",
    "NUL byte": b"a\x00b.wav",
    "control characters": b"\x01\x02\x1b[31m\x07.wav",
    "1,000 characters": b"n" * 1000 + b".wav",
}

PRIVATE_URLS = [
    "http://127.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://[::1]:{port}/",
    "http://10.0.0.1/song.mp3",
    "http://192.168.1.1/song.mp3",
    "http://169.254.169.254/latest/meta-data/",
    "http://2130706433/song.mp3",
    "http://0x7f.1/song.mp3",
    "file:///etc/passwd",
]


def _is_problem(response: httpx.Response) -> bool:
    if not response.headers.get("content-type", "").startswith(PROBLEM):
        return False
    body = response.json()
    return {"type", "title", "status", "detail"} <= set(body) and body["status"] == response.status_code


def _multipart(name: bytes, data: bytes) -> tuple[bytes, str]:
    body = (
        b'--GKB\r\nContent-Disposition: form-data; name="file"; filename="' + name + b'"\r\n'
        b"Content-Type: audio/wav\r\n\r\n" + data + b"\r\n--GKB--\r\n"
    )
    return body, "multipart/form-data; boundary=GKB"


def abuse(
    stack: Stack, clip: np.ndarray, *, n_wrong_keys: int = 1000, burst: int = 120, burst_key_limit: int = 30, redirect_port: int | None = None
) -> dict:
    """Every abuse case; each answer's status and whether it was problem+json, the service's
    health afterwards and each replica's peak memory."""
    report: dict = {"cases": []}

    def case(kind: str, what: str, response: httpx.Response, expect_ok: bool = False) -> None:
        ok = response.status_code < 300 if expect_ok else (response.status_code >= 400 and _is_problem(response))
        if what.startswith("hours announced") and response.status_code == 200:
            ok = response.json()["duration_s"] < 1.0  # only the samples really sent were decoded
        detail = response.json().get("detail", "")[:140] if _is_problem(response) else response.text[:100]
        extra = f" -> name {response.json()['name']!r:.60}" if response.status_code == 200 and "name" in response.json() else ""
        report["cases"].append({"kind": kind, "case": what, "status": response.status_code, "as_promised": ok, "detail": detail + extra})

    wavs = UniqueWavs([clip])
    hostile = dict(HOSTILE_FILES)
    flac = hours_in_small_flac()
    hostile[f"2 hours of audio in a {len(flac) // 1024} KiB FLAC"] = flac
    with _client(stack, timeout_s=180) as http:
        for what, data in hostile.items():
            case("hostile file", what, http.post("/api/v1/classify", files={"file": ("hostile.wav", data, "audio/wav")}))
        short = wavs.next()[1][: 44 + 2 * 22050 * 3]
        short = short[:4] + struct.pack("<I", len(short) - 8) + short[8:40] + struct.pack("<I", len(short) - 44) + short[44:]
        for what, name in BAD_NAMES.items():
            body, content_type = _multipart(name, short[:-2] + os.urandom(2))
            case("file name", what, http.post("/api/v1/classify", content=body, headers={"Content-Type": content_type}), expect_ok=True)
        port = redirect_port or stack.proxy_port
        for url in PRIVATE_URLS:
            case("private URL", url.format(port=port), http.post("/api/v1/classify/url", json={"url": url.format(port=port)}))
        case("oversized JSON", "1 MiB JSON body", http.post("/api/v1/classify/url", content=b'{"url": "' + b"a" * 2**20 + b'"}', headers={"Content-Type": "application/json"}))
        case("oversized JSON", "5,000-deep nested JSON (10 KB)", http.post("/api/v1/classify/url", content=b'{"url":' + b"[" * 5000 + b"]" * 5000 + b"}", headers={"Content-Type": "application/json"}))
        case("oversized JSON", "10,000-deep nested JSON", http.post("/api/v1/classify/url", content=b'{"url":' + b"[" * 10000 + b"]" * 10000 + b"}", headers={"Content-Type": "application/json"}))
        case("oversized upload", "101 MiB declared upload", _declared_too_big(stack))

        keys_before = http.get("/api/v1/keys").json()
        wrong = _wrong_keys(stack, n_wrong_keys)
        keys_after = http.get("/api/v1/keys").json()
        wrong["keys_unchanged"] = keys_before == keys_after
        report["wrong_keys"] = wrong

    report["rate_limit"] = rate_limit_burst(stack, burst, clip, per_minute=burst_key_limit)
    with _client(stack) as http:
        report["ready_after"] = {r.name: http.get(f"{r.url}/readyz").status_code for r in stack.replicas}
        report["upload_after"] = http.post("/api/v1/classify", files={"file": ("after.wav", wavs.next()[1], "audio/wav")}).status_code
    report["peak_rss_mb"] = {r.name: peak_rss_mb(r.pid) for r in stack.replicas}
    report["all_as_promised"] = all(c["as_promised"] for c in report["cases"]) and report["wrong_keys"]["all_401_problem"]
    return report


def _declared_too_big(stack: Stack) -> httpx.Response:
    """An upload whose Content-Length says 101 MiB (the limit is 100), its body never sent:
    nginx must refuse it from the header alone."""
    request = (
        f"POST /api/v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {stack.admin_key}\r\n"
        f"Content-Type: audio/wav\r\nContent-Length: {101 * 2**20}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", stack.proxy_port), timeout=30) as sock:
        sock.sendall(request)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in lines[1:] if ": " in line]
    return httpx.Response(int(lines[0].split()[1]), headers=headers, content=body)


def _wrong_keys(stack: Stack, n: int) -> dict:
    """``n`` invalid keys (random ones, and ones sharing the valid key's first characters):
    all 401 problem+json, no key echoed, and their latencies compared."""
    valid = stack.admin_key
    statuses, echoed, problems = Counter(), 0, 0
    latencies: dict[str, list[float]] = {"random": [], "same_prefix": []}
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        for i in range(n):
            kind = "random" if i % 2 else "same_prefix"
            secret = "gk_" + os.urandom(32).hex()[:43] if kind == "random" else valid[:-4] + os.urandom(2).hex()
            started = time.perf_counter()
            response = http.get("/api/v1/classifications", headers={"Authorization": f"Bearer {secret}"})
            latencies[kind].append(time.perf_counter() - started)
            statuses[response.status_code] += 1
            problems += _is_problem(response)
            echoed += secret in response.text or secret[3:20] in response.text
    return {
        "requests": n,
        "statuses": dict(statuses),
        "all_401_problem": statuses.get(401, 0) == n and problems == n,
        "key_echoed": echoed,
        "median_latency_ms": {k: round(1000 * float(np.median(v)), 2) for k, v in latencies.items()},
    }


def rate_limit_burst(stack: Stack, burst: int, clip: np.ndarray, per_minute: int = 30) -> dict:
    """``burst`` uploads at once with a key limited to ``per_minute``: how many get 429."""
    key = stack.create_key("editor", rate_limit=per_minute, name="burst")
    wavs = UniqueWavs([clip[: 22050 * 2]])
    files = [wavs.next() for _ in range(burst)]

    async def fire() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=burst)
        async with httpx.AsyncClient(base_url=stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=180, limits=limits) as http:
            return await asyncio.gather(*(http.post("/api/v1/classify", files={"file": (n, d, "audio/wav")}) for n, d in files))

    started = time.monotonic()
    responses = asyncio.run(fire())
    elapsed = time.monotonic() - started
    statuses = Counter(r.status_code for r in responses)
    limited = [r for r in responses if r.status_code == 429]
    return {
        "key_limit_per_minute": per_minute,
        "replicas": len([r for r in stack.replicas if r.pid]),
        "burst": burst,
        "seconds": round(elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "rate_429": round(len(limited) / burst, 3),
        "all_429_problem_with_retry_after": all(_is_problem(r) and r.headers.get("Retry-After") for r in limited),
    }


# -- full disk -------------------------------------------------------------------------------


def full_upload_disk(stack: Stack, clip: np.ndarray) -> dict:
    """Fill the replicas' upload spool (a small tmpfs, ``stack.tmpdir``) and upload: 507
    problem+json, no new row, no file left; freed, the next upload succeeds."""
    if stack.tmpdir is None or not os.path.ismount(stack.tmpdir):
        return {"skipped": "the replicas' TMPDIR is not a tmpfs of its own (mount needs root)"}
    filler = stack.tmpdir / "filler"
    free = shutil.disk_usage(stack.tmpdir).free
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, free - 256 * 1024))
    engine = sqlalchemy.create_engine(stack.postgres.url)
    count = "SELECT count(*) FROM classifications"
    try:
        with engine.connect() as conn:
            rows_before = conn.execute(sqlalchemy.text(count)).scalar_one()
        files_before = sorted(p.name for p in stack.tmpdir.iterdir())
        wavs = UniqueWavs([clip])
        with _client(stack) as http:
            response = http.post("/api/v1/classify", files={"file": wavs.next()})
            full = {"status": response.status_code, "problem": _is_problem(response), "detail": response.json().get("detail", "")[:160]}
            with engine.connect() as conn:
                rows_after = conn.execute(sqlalchemy.text(count)).scalar_one()
            files_after = sorted(p.name for p in stack.tmpdir.iterdir())
            filler.unlink()
            again = http.post("/api/v1/classify", files={"file": wavs.next()}).status_code
    finally:
        filler.unlink(missing_ok=True)
        engine.dispose()
    return {
        "spool_mb": round(shutil.disk_usage(stack.tmpdir).total / 2**20, 1),
        "answer_when_full": full,
        "rows_added_when_full": rows_after - rows_before,
        "files_left_when_full": [f for f in files_after if f not in files_before],
        "status_after_freeing": again,
    }


# -- scan kill -------------------------------------------------------------------------------


def scan_kill_and_rerun(stack: Stack, library: Path, *, kill_after_rows: int = 3) -> dict:
    """``kill -9`` a ``genrekit scan`` of ``library`` (its whole process group: workers too)
    once ``kill_after_rows`` files are stored, rerun it, and count each file's rows: every
    file must be stored exactly once."""
    files = sorted(p for p in library.rglob("*") if p.is_file())
    engine = sqlalchemy.create_engine(stack.postgres.url)
    command = [sys.executable, "-m", "genrekit", "scan", str(library), "--db", stack.postgres.url, "--workers", "2", "-q"]
    report: dict = {"files": len(files)}
    count = sqlalchemy.text("SELECT count(*) FROM library_tracks")
    try:
        scan = subprocess.Popen(command, env=stack.app_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        stored = 0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and scan.poll() is None:
            with engine.connect() as conn:
                stored = conn.execute(count).scalar_one()
            if stored >= kill_after_rows:
                break
            time.sleep(0.2)
        report["stored_when_killed"] = stored
        report["finished_before_kill"] = scan.poll() is not None
        if scan.poll() is None:
            os.killpg(scan.pid, signal.SIGKILL)
        scan.wait()
        rerun = subprocess.run(command, env=stack.app_env(), capture_output=True, text=True, timeout=900)
        report["rerun_exit"] = rerun.returncode
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text("SELECT path, status FROM library_tracks")).all()
        per_path = Counter(row.path for row in rows)
        report["rows"] = len(rows)
        report["stored_ok"] = sum(1 for row in rows if row.status == "ok")
        report["files_stored_exactly_once"] = sum(1 for f in files if per_path.get(str(f.resolve()), 0) == 1)
        report["paths_stored_twice"] = sum(1 for n in per_path.values() if n > 1)
    finally:
        engine.dispose()
    return report


# -- Ray scan kill ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RayCluster:
    """A two-node Ray cluster on this machine (one head, one worker node, ``cpus`` CPUs each),
    each node advertising 127.0.0.1 (Ray still listens on every interface: the cluster's own
    token keeps other clients out), with its own temporary folder under ``root``.

    ``ray stop`` stops every Ray process of the machine (other users' too), so :meth:`stop`
    ends only the processes started here: those whose command line names this cluster's
    folders, and their children, SIGTERM then SIGKILL after ``grace_s`` seconds.
    """

    def __init__(self, root: Path, env: dict[str, str], *, cpus: int = 1, object_store_mb: int = 256) -> None:
        self.root = root
        # Ray >= 2.5x turns token authentication on for a new head: every process of this
        # cluster (nodes and drivers) gets this cluster's own token, not one from ~/.ray.
        self.env = dict(env, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
        self.cpus = cpus
        self.object_store_bytes = object_store_mb * 2**20
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.head_dir = root / "ray-head"
        self.worker_dir = root / "ray-node2"

    def _ray(self, *args: str) -> None:
        ray = Path(sys.executable).with_name("ray")
        done = subprocess.run([str(ray), *args], env=self.env, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"ray {args[0]} failed ({done.returncode}): {done.stderr[-800:]}")

    def start(self) -> None:
        """Start the head, then the second node joining it (seconds each on an idle core)."""
        common = ["--num-cpus", str(self.cpus), "--node-ip-address", "127.0.0.1",
                  "--object-store-memory", str(self.object_store_bytes), "--disable-usage-stats"]
        self.head_dir.mkdir(parents=True, exist_ok=True)
        self.worker_dir.mkdir(parents=True, exist_ok=True)
        self._ray("start", "--head", "--port", str(self.port), "--temp-dir", str(self.head_dir),
                  "--include-dashboard", "false", *common)
        self._ray("start", "--address", self.address, "--temp-dir", str(self.worker_dir), *common)

    def _own(self) -> list:
        import psutil

        mine = []
        for proc in psutil.process_iter(["cmdline"]):
            line = " ".join(proc.info["cmdline"] or [])
            if str(self.root) in line or f"127.0.0.1:{self.port}" in line:
                mine.append(proc)
        return mine

    def raylets(self) -> dict[str, int]:
        """``{"head": pid, "node2": pid}`` of the two raylets (missing keys: not running)."""
        found = {}
        for proc in self._own():
            if "raylet" not in proc.name():
                continue
            line = " ".join(proc.cmdline())
            found["node2" if str(self.worker_dir) in line else "head"] = proc.pid
        return found

    def actor_pids(self, node: str = "node2", names: tuple[str, ...] = ("MapWorker", "SongDecoder", "BatchClassifier")) -> list[tuple[int, str]]:
        """The Ray worker processes under ``node``'s raylet whose title (``ray::<actor>...``)
        names one of ``names`` (the scan's Ray Data actors; Ray's own agents are left out)."""
        import psutil

        raylet = self.raylets().get(node)
        if raylet is None:
            return []
        workers = []
        for child in psutil.Process(raylet).children(recursive=True):
            try:
                title = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if title.startswith("ray::") and any(name in title for name in names):
                workers.append((child.pid, title.strip()[:80]))
        return workers

    def stop(self, grace_s: float = 15.0) -> int:
        """End this cluster's processes and their children only; how many there were."""
        import psutil

        procs = {}
        for proc in self._own():
            procs[proc.pid] = proc
            try:
                for child in proc.children(recursive=True):
                    procs[child.pid] = child
            except psutil.Error:
                pass
        procs.pop(os.getpid(), None)
        for proc in procs.values():
            try:
                proc.terminate()
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(list(procs.values()), timeout=grace_s)
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        return len(procs)


def _rows(db_url: str) -> list:
    if db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///")).exists():
        return []  # the scan has not created its database yet
    engine = sqlalchemy.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sqlalchemy.text("SELECT path, status FROM library_tracks")).all())
    except sqlalchemy.exc.OperationalError:
        return []  # the table is not there yet (the scan is creating the database)
    finally:
        engine.dispose()


def _exactly_once(files: list[Path], db_url: str) -> dict:
    rows = _rows(db_url)
    per_path = Counter(row.path for row in rows)
    return {
        "rows": len(rows),
        "stored_ok": sum(1 for row in rows if row.status == "ok"),
        "files_stored_exactly_once": sum(1 for f in files if per_path.get(str(f.resolve()), 0) == 1),
        "files_missing": sum(1 for f in files if str(f.resolve()) not in per_path),
        "paths_stored_twice": sum(1 for n in per_path.values() if n > 1),
    }


def _ray_scan_case(cluster: RayCluster, files: list[Path], command: list[str], db_url: str, victim: str,
                   kill_after_rows: int, timeout_s: float) -> dict:
    """One case: start the scan, ``kill -9`` the ``victim`` (``worker``: a busy Ray worker of
    the second node; ``driver``: the scan's process group) once ``kill_after_rows`` files are
    stored, let the run end, rerun it and count each file's rows."""
    report: dict = {"victim": victim}
    started = time.monotonic()
    scan = subprocess.Popen(command, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = started + timeout_s
    stored = 0
    while time.monotonic() < deadline and scan.poll() is None:
        stored = len(_rows(db_url))
        busy = cluster.actor_pids("node2") if victim == "worker" else []
        if kill_after_rows <= stored < len(files) and (victim == "driver" or busy):
            break
        time.sleep(0.3)
    report["stored_when_killed"] = stored
    report["finished_before_kill"] = scan.poll() is not None
    if scan.poll() is None:
        report["killed_after_s"] = round(time.monotonic() - started, 1)
        if victim == "driver":
            os.killpg(scan.pid, signal.SIGKILL)
            time.sleep(5)
            report["scan_actors_5s_later"] = {node: [f"{p} {t}" for p, t in cluster.actor_pids(node)] for node in ("head", "node2")}
        else:
            actors = {node: cluster.actor_pids(node) for node in ("head", "node2")}
            decoders = [a for a in actors["node2"] if "SongDecoder" in a[1]]
            pid, title = (decoders or actors["node2"])[0]
            os.kill(pid, signal.SIGKILL)
            report["killed_worker"] = f"{title} (pid {pid}, second node)"
            report["scan_actors_at_kill"] = {node: [f"{p} {t}" for p, t in found] for node, found in actors.items()}
            time.sleep(5)
            report["scan_actors_5s_later"] = {node: [f"{p} {t}" for p, t in cluster.actor_pids(node)] for node in ("head", "node2")}
    try:
        out, err = scan.communicate(timeout=max(30.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(scan.pid, signal.SIGKILL)
        out, err = scan.communicate()
        report["killed_run_timed_out"] = True
    report["killed_run_exit"] = scan.returncode
    report["killed_run_seconds"] = round(time.monotonic() - started, 1)
    report["killed_run_summary"] = out.strip().splitlines()[:12]
    report["killed_run_stderr_tail"] = [line[:240] for line in err.strip().splitlines()[-6:]]
    report["after_killed_run"] = _exactly_once(files, db_url)
    started = time.monotonic()
    rerun = subprocess.run(command, env=cluster.env, capture_output=True, text=True, timeout=timeout_s)
    report["rerun_exit"] = rerun.returncode
    report["rerun_seconds"] = round(time.monotonic() - started, 1)
    report["rerun_summary"] = rerun.stdout.strip().splitlines()[:12]
    if rerun.returncode != 0:
        report["rerun_stderr_tail"] = [line[:240] for line in rerun.stderr.strip().splitlines()[-6:]]
    report["after_rerun"] = _exactly_once(files, db_url)
    report["exactly_once"] = report["after_rerun"]["files_stored_exactly_once"] == len(files)
    return report


def ray_scan_kill_and_rerun(library: Path, root: Path, env: dict[str, str] | None = None, *,
                            kill_after_rows: int = 1, timeout_s: float = 600.0) -> dict:
    """``genrekit scan --engine ray`` of ``library`` on a two-node Ray cluster started here
    (head + one worker node, 1 CPU each, state under ``root``), twice on fresh SQLite databases:
    first ``kill -9`` of a busy Ray worker process of the second node mid-run, then ``kill -9``
    of the scan driver itself; each run is followed by the same command again, and every file
    must be stored exactly once. Figures per case (seconds are wall-clock on this machine);
    ``{"skipped": reason}`` where Ray is not installed."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return {"skipped": "Ray not installed: pip install 'genrekit[ray]'"}
    try:
        import psutil  # noqa: F401
    except ImportError:
        return {"skipped": "psutil not installed (it finds the cluster's processes): pip install psutil"}
    if not Path(sys.executable).with_name("ray").exists():
        return {"skipped": "the ray command is not beside this Python"}
    files = sorted(p for p in library.rglob("*") if p.is_file())
    base_env = dict(env or os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    base_env["PYTHONPATH"] = os.pathsep.join(p for p in (src, base_env.get("PYTHONPATH", "")) if p)
    root.mkdir(parents=True, exist_ok=True)
    cluster = RayCluster(root, base_env)
    report: dict = {"files": len(files), "cpus_per_node": cluster.cpus, "load_average_before": os.getloadavg()}
    try:
        started = time.monotonic()
        cluster.start()
        report["cluster_start_s"] = round(time.monotonic() - started, 1)
        for victim in ("worker", "driver"):
            db_url = f"sqlite:///{root / f'scan-{victim}.db'}"
            command = [sys.executable, "-m", "genrekit", "scan", str(library), "--engine", "ray",
                       "--address", cluster.address, "--db", db_url]
            report[f"kill_{victim}"] = _ray_scan_case(cluster, files, command, db_url, victim, kill_after_rows, timeout_s)
    finally:
        report["processes_stopped"] = cluster.stop()
        report["load_average_after"] = os.getloadavg()
    report["exactly_once"] = all(report.get(f"kill_{v}", {}).get("exactly_once", False) for v in ("worker", "driver"))
    return report


__all__ = [
    "Replica",
    "StackError",
    "abuse",
    "full_upload_disk",
    "kill_replica_under_load",
    "load_clips",
    "load_levels",
    "ray_scan_kill_and_rerun",
    "restart_database_under_load",
    "scan_kill_and_rerun",
]
