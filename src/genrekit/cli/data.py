"""``genrekit data``: inspect datasets.

* ``genrekit data list DIR_OR_CSV``: the recognised layout and the number of tracks per
  label and split.
* ``genrekit data check DIR_OR_CSV``: decode every file and report corrupt, short,
  non-audio, missing and duplicate ones; exit code 0 if clean, 1 if any problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from genrekit.cli.extras import require_train_extra

FORMATS = ("text", "json")
SPLIT_CHOICES = ("train", "valid", "test", "none")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` subcommand with its ``list`` and ``check`` actions."""
    parser = subparsers.add_parser(
        "data",
        help="list and check datasets (GTZAN, FMA, folder per genre, CSV manifest)",
        description="Inspect a dataset: list its tracks per genre and split, or check every file.",
    )
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: _usage(parser))

    list_parser = actions.add_parser(
        "list",
        help="count tracks per genre and split",
        description="Recognise a dataset's layout and count its tracks per genre and split.",
    )
    list_parser.add_argument("dataset", metavar="DIR_OR_CSV", help="dataset folder or CSV manifest")
    list_parser.add_argument(
        "--split", choices=SPLIT_CHOICES, action="append", help="only these splits (repeatable; none = without split)"
    )
    list_parser.add_argument(
        "--split-scheme",
        choices=("dataset", "filtered", "none"),
        default="dataset",
        help="dataset: the layout's own splits (default); filtered: GTZAN fault-filtered lists; none: ignore splits",
    )
    list_parser.add_argument("--subset", choices=("small", "medium", "large", "full"), help="FMA subset")
    list_parser.add_argument("--tracks", action="store_true", help="also print one line per track")
    list_parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    list_parser.set_defaults(func=run_list)

    check_parser = actions.add_parser(
        "check",
        help="find corrupt, short, non-audio, missing and duplicate files",
        description="Decode every audio file of a dataset and report all problems found: corrupt, "
        "too short, not audio, missing, and duplicates (same audio, even in another container).",
        epilog="Exit code 0 if no problem was found, 1 otherwise.",
    )
    check_parser.add_argument("dataset", metavar="DIR_OR_CSV", help="folder (all audio files under it) or CSV manifest")
    check_parser.add_argument(
        "--min-duration",
        type=_non_negative_float,
        default=None,
        metavar="S",
        help="report files shorter than S seconds (default 3)",
    )
    check_parser.add_argument(
        "--jobs", type=_positive_int, default=2, metavar="N", help="decoding processes (default 2)"
    )
    check_parser.add_argument(
        "--sniff", action="store_true", help="also check files without an audio extension whose bytes are audio"
    )
    check_parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    check_parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    check_parser.set_defaults(func=run_check)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from e
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from e
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def run_list(args: argparse.Namespace) -> int:
    """Print a dataset's layout and its track counts per label and split."""
    require_train_extra("data")
    from genrekit.datasets import load_dataset

    scheme = None if args.split_scheme == "dataset" else args.split_scheme
    dataset = load_dataset(args.dataset, split_scheme=scheme, subset=args.subset)
    records = list(dataset.records)
    if args.split:
        wanted = {None if s == "none" else s for s in args.split}
        records = [r for r in records if r.split in wanted]
    split_names = [s for s in ("train", "valid", "test") if any(r.split == s for r in records)]
    if any(r.split is None for r in records):
        split_names.append("none")
    labels = sorted({r.label for r in records})
    counts: dict[str, dict[str, int]] = {label: dict.fromkeys(split_names, 0) for label in labels}
    for r in records:
        counts[r.label][r.split or "none"] += 1
    if args.format == "json":
        out: dict[str, Any] = {
            "name": dataset.name,
            "root": str(dataset.root),
            "layout": dataset.layout,
            "info": dataset.info,
            "fingerprint": dataset.fingerprint,
            "n_tracks": len(records),
            "labels": labels,
            "counts": counts,
        }
        if args.tracks:
            out["tracks"] = [r.to_dict() for r in records]
        print(json.dumps(out, indent=2, sort_keys=True))
        return 0
    details = ", ".join(f"{k} {v}" for k, v in sorted(dataset.info.items()))
    print(f"dataset {dataset.name} at {dataset.root}")
    print(f"layout  {dataset.layout}{f' ({details})' if details else ''}")
    print(f"tracks  {len(records)} in {len(labels)} labels")
    print(f"fingerprint {dataset.fingerprint}")
    if records:
        rows = [["label", *split_names, "total"]]
        for label in labels:
            row_counts = [counts[label][s] for s in split_names]
            rows.append([label, *map(str, row_counts), str(sum(row_counts))])
        totals = [sum(counts[label][s] for label in labels) for s in split_names]
        rows.append(["total", *map(str, totals), str(sum(totals))])
        print()
        print(_table(rows))
    if args.tracks:
        print()
        for r in records:
            print(f"{r.split or '-'}\t{r.label}\t{r.track_id}\t{r.path}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Check every file of a dataset; exit code 1 if any problem was found."""
    require_train_extra("data")
    from genrekit.datasets import DEFAULT_MIN_DURATION_S, check_dataset

    min_duration_s = DEFAULT_MIN_DURATION_S if args.min_duration is None else args.min_duration
    report = check_dataset(
        args.dataset,
        min_duration_s=min_duration_s,
        n_jobs=args.jobs,
        progress=not args.no_progress,
        sniff=args.sniff,
    )
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
        return 0 if report.ok else 1
    for problem in report.problems:
        print(f"{problem.kind:<11}  {problem.path}: {problem.message}")
    if report.problems:
        print()
    minutes = report.total_duration_s / 60.0
    print(f"checked {report.n_files} files ({minutes:.1f} min of audio) in {args.dataset}")
    if report.ok:
        print("no problems found")
        return 0
    found = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in report.counts().items() if n)
    print(f"{report.n_problem_files} files with problems: {found}")
    if report.duplicate_groups:
        print(f"{len(report.duplicate_groups)} groups of files with identical audio")
    return 1
