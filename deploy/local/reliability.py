"""``make reliability``: start the local deployment and run every load, fault and abuse
scenario against it, writing the figures as JSON (see docs/reliability.md).

    python deploy/local/reliability.py [--duration 30] [--levels 1,8,32] [--long 180] [--out FILE]

Each load run is bounded by ``--duration`` seconds; ``--long`` adds one run of 32 clients on
two replicas for that long. The machine's load changes the figures: quote ratios measured in
one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import SHARED_CLIPS, load_clips, run_load  # noqa: E402
from faultcases import (  # noqa: E402
    abuse,
    background_backlog,
    full_upload_disk,
    kill_replica_under_load,
    load_levels,
    restart_database_under_load,
    ray_scan_kill_and_rerun,
    scan_kill_and_rerun,
    unreadable_ids,
)
from localstack import Stack, missing_parts  # noqa: E402

SPOOL_MB = 1024  # the replicas' upload spool (tmpfs), as compose's /tmp (size=1g)


def _scan_library(root: Path, n: int = 12, name: str = "library") -> Path | None:
    """A folder ``root/name`` of copies of ``n`` shared clips for the scan scenarios."""
    clips = sorted(SHARED_CLIPS.rglob("*.flac"))[:n] if SHARED_CLIPS.is_dir() else []
    if not clips:
        return None
    library = root / name
    library.mkdir(exist_ok=True)
    for clip in clips:
        target = library / f"{clip.parent.name}-{clip.name}"
        if not target.exists():
            shutil.copyfile(clip, target)
    return library


def markdown(results: dict) -> str:
    """The load figures of a results file as Markdown tables (for docs/reliability.md)."""
    lines = [
        "| replicas | clients | requests/s | uploads/s | errors | upload p50 / p95 / p99 (s) | reads p95 (s): result, history, search, similar | CPU % per replica | peak RSS MiB per replica |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    runs = [(label, clients, summary) for label, by_clients in results.get("load", {}).items() for clients, summary in by_clients.items()]
    if "long_32_clients" in results:
        runs.append(("two_replicas (long)", "32", results["long_32_clients"]))
    for label, clients, summary in runs:
        endpoints = summary["endpoints"]
        upload = endpoints.get("upload", {})
        reads = ", ".join(f"{endpoints[e]['p95_s']:.2f}" if e in endpoints else "-" for e in ("result", "history", "search", "similar"))
        processes = summary["processes"]
        cpu = " / ".join(f"{p['cpu_percent_mean']:.0f}" for p in processes.values())
        rss = " / ".join(f"{p['rss_peak_mb']:.0f}" for p in processes.values())
        errors = f"{summary['errors']} ({100 * summary['error_rate']:.1f} %)"
        if summary["errors"]:
            errors += ": " + ", ".join(f"{e} {s}x{n}" for e, v in endpoints.items() for s, n in v["statuses"].items() if not s.startswith("2"))
        lines.append(
            f"| {'2' if label.startswith('two') else '1'}{' (3 min)' if 'long' in label else ''} | {clients} | {summary['requests_per_s']} | {summary['uploads_per_s']} | {errors} "
            f"| {upload.get('p50_s', '-')} / {upload.get('p95_s', '-')} / {upload.get('p99_s', '-')} | {reads} | {cpu} | {rss} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run everything; exit 1 if a promise was broken (a lost upload, a non-problem answer)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of each load run")
    parser.add_argument("--levels", default="1,8,32", help="numbers of concurrent clients")
    parser.add_argument("--long", type=float, default=0.0, help="seconds of one extra 32-client run (0: none)")
    parser.add_argument("--out", type=Path, default=Path("reliability-results.json"))
    parser.add_argument("--dir", type=Path, default=None, help="state directory (default: a temporary one)")
    parser.add_argument("--tables", type=Path, default=None, help="print the load tables of this results file and exit")
    args = parser.parse_args(argv)
    if args.tables is not None:
        print(markdown(json.loads(args.tables.read_text())))
        return 0
    missing = missing_parts()
    if missing:
        print("reliability: cannot run, missing " + "; ".join(missing), file=sys.stderr)
        return 2
    root = args.dir or Path(tempfile.mkdtemp(prefix="genrekit-reliability-"))
    stack = Stack(root)
    spool = stack.mount_upload_spool(SPOOL_MB)
    results: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "upload_spool_tmpfs": spool}

    def save() -> None:
        args.out.write_text(json.dumps(results, indent=2))

    def step(name: str, fn) -> None:
        started = time.monotonic()
        print(f"reliability: {name} ...", file=sys.stderr, flush=True)
        results[name] = fn()
        results[name + "_seconds"] = round(time.monotonic() - started, 1)
        results[name + "_background_backlog"] = background_backlog(stack)
        save()
        print(json.dumps(results[name], indent=1)[:3000], file=sys.stderr, flush=True)

    try:
        stack.up()
        results["prometheus"] = stack.prometheus is not None
        clips = load_clips()
        levels = [int(n) for n in args.levels.split(",")]
        step("abuse", lambda: abuse(stack, clips[0]))
        step("load", lambda: load_levels(stack, levels, args.duration, clips))
        step("kill_replica", lambda: kill_replica_under_load(stack, 8, max(30.0, args.duration), clips))
        step("restart_database", lambda: restart_database_under_load(stack, 8, max(30.0, args.duration), clips))
        step("full_upload_disk", lambda: full_upload_disk(stack, clips[0]))
        library = _scan_library(root)
        if library is not None:
            step("scan_kill", lambda: scan_kill_and_rerun(stack, library))
        ray_library = _scan_library(root, 36, "ray-library")
        if ray_library is not None:
            step("ray_scan_kill", lambda: ray_scan_kill_and_rerun(ray_library, root / "ray"))
            if "skipped" in results["ray_scan_kill"]:
                print(f"reliability: Ray scan kill skipped: {results['ray_scan_kill']['skipped']}", file=sys.stderr)
        if args.long > 0:

            def long_run() -> dict:
                processes = {r.name: r.pid for r in stack.replicas if r.pid}
                result = asyncio.run(run_load(stack.url, stack.admin_key, clients=32, duration_s=args.long, clips=clips, processes=processes))
                summary = result.summary()
                summary["lost_accepted_uploads"] = len(unreadable_ids(stack, result.accepted_ids))
                return summary

            step("long_32_clients", long_run)
    finally:
        stack.down()
    broken = []
    if not results.get("abuse", {}).get("all_as_promised", False):
        broken.append("an abuse case was not answered as promised")
    for name in ("kill_replica", "restart_database"):
        if results.get(name, {}).get("lost_accepted_uploads", 1):
            broken.append(f"{name}: accepted uploads lost")
    ray_case = results.get("ray_scan_kill", {})
    if ray_case and "skipped" not in ray_case and not ray_case.get("exactly_once"):
        broken.append("ray_scan_kill: a file not stored exactly once after the rerun")
    print(f"reliability: figures in {args.out}", file=sys.stderr)
    for line in broken:
        print(f"reliability: BROKEN: {line}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
