"""``genrekit classify``: genres, tags and a timeline for songs, files or whole directories.

Inputs
------
Each ``FILE_OR_DIR`` is a file (classified whatever its extension: the decoder sniffs the
content), ``-`` (the bytes on standard input), or a directory, walked recursively (a directory's
files in sorted order, then its subdirectories in sorted order) for files whose extension is
in :data:`AUDIO_EXTENSIONS` (case-insensitive; hidden files and directories, whose names
start with ``.``, are skipped; no content sniffing there, so a song must carry an audio
extension to be found in a directory). A directory without any
audio file counts as a failed input.

Outputs (standard output)
-------------------------
``table`` (default)
    Per input: the top ``--top`` genres with bars, the top tags, the compact timeline (runs
    of windows with the same top genre merged) and any warnings. Printed as each input
    finishes.
``json``
    ONE JSON array with one object per input, in input order: the shared result schema
    (:meth:`genrekit.predict.Prediction.to_dict`) or, for a failed input,
    ``{"name": ..., "error": {"type": ..., "message": ...}}``.
``csv``
    A header, then one row per input: ``name, duration_s, top_genre, top_score``, one score
    column per genre (the model's label order), ``tags`` (``tag:score`` joined by ``;``),
    ``warnings`` (joined by ``;``) and ``error`` (``Type: message``; empty when it worked).

Progress, errors and the summary (standard error)
-------------------------------------------------
Songs run on the batch engine (:mod:`genrekit.batch.engine`): one input in this process;
several (or a directory) on the pipelined engine, ``--workers`` decoder processes feeding one
model that runs many songs' windows per batch with ``--threads`` threads (by default
``workers + threads <= cores``). ``--device cuda`` runs the model with ONNX Runtime's CUDA
provider (``pip install 'genrekit[gpu]'``).
With several inputs, a bar (count, ETA, songs/s) is drawn when standard error is a
terminal, and plain progress lines are printed every 10 s otherwise. A failed input is
reported once, ``genrekit classify: NAME: reason``, and the others go on; the run ends with
``N classified, M failed``. What decoder libraries write on their own (e.g. libmpg123's
"Xing stream size off by more than 1%") is silenced unless ``--verbose``; ``--quiet`` keeps
only the summary. The exit code is 1 if any input failed, else 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from genrekit.audio.sniff import AUDIO_EXTENSIONS
from genrekit.errors import GenrekitError

STDIN_NAME = "-"
DEFAULT_CLI_TOP = 5  # genres shown in the table, tags in every format
BAR_WIDTH = 20  # characters
MAX_TIMELINE_RUNS = 8  # runs shown before "... (n more)"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``classify`` subcommand."""
    parser = subparsers.add_parser(
        "classify",
        help="classify songs: genres, tags and a per-window timeline",
        description="Classify audio files (any format genrekit decodes) or whole directories "
        "(walked recursively for known audio extensions). Prints a table, one JSON array, or CSV. "
        "A failed input is reported on stderr and the others go on; the exit code is 1 if any failed.",
    )
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="audio files, directories, or - for stdin")
    parser.add_argument("--model", metavar="BUNDLE", default=None, help="model bundle directory (default: the bundled model)")
    parser.add_argument("--top", metavar="K", type=_non_negative_int, default=DEFAULT_CLI_TOP,
                        help=f"genres shown in the table and tags reported (default {DEFAULT_CLI_TOP}; 0: no tags)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format (default table)")
    parser.add_argument("--hop", metavar="S", type=_positive_float, default=None,
                        help="seconds between analysis windows (default: the window length, no overlap)")
    parser.add_argument("--batch-size", metavar="N", type=_positive_int, default=None, help="windows per forward pass")
    parser.add_argument("--threads", metavar="N", type=_positive_int, default=None,
                        help="CPU threads for inference (default: the cores the decoders leave)")
    parser.add_argument("--workers", metavar="N", type=_positive_int, default=None,
                        help="decoder processes for several inputs (default: from the cores; "
                             "one input runs in this process)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="where the model runs (default: GENREKIT_DEVICE, else cpu); cuda needs "
                             "pip install 'genrekit[gpu]' and an NVIDIA GPU")
    add_verbosity_arguments(parser)
    parser.add_argument("--max-duration", metavar="S", type=_positive_float, default=None,
                        help="reject inputs longer than S seconds (default: no limit)")
    windows = parser.add_mutually_exclusive_group()
    windows.add_argument("--max-windows", metavar="N", type=_non_negative_int, default=None,
                         help="classify a long song from N windows spread over it, decoding only those "
                              "(default: the model's, 4 for the bundled one; 0: every window)")
    windows.add_argument("--full", dest="max_windows", action="store_const", const=0,
                         help="classify every window (a complete timeline; slower on long songs)")
    parser.add_argument("--runtime", choices=("auto", "onnx", "torch"), default="auto",
                        help="inference runtime (default auto: ONNX Runtime where available)")
    parser.set_defaults(func=run)


def add_verbosity_arguments(parser: argparse.ArgumentParser) -> None:
    """``--quiet`` / ``--verbose`` of the batch commands (classify, scan, tag)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true",
                       help="no progress and no per-file error lines; the summary stays")
    group.add_argument("-v", "--verbose", action="store_true",
                       help="also show what the decoders write on stderr (normally silenced)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def expand_inputs(inputs: list[str]) -> Iterator[tuple[str, str | None]]:
    """Yield ``(name, problem)`` for every input file; ``problem`` is None when usable.

    Directories are walked recursively (sorted, hidden entries skipped) for files with an
    extension in :data:`AUDIO_EXTENSIONS`; other inputs are yielded as given.
    """
    for item in inputs:
        if item == STDIN_NAME:
            yield item, None
            continue
        path = Path(item)
        if path.is_dir():
            found = False
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for file_name in sorted(files):
                    if not file_name.startswith(".") and Path(file_name).suffix.lower() in AUDIO_EXTENSIONS:
                        found = True
                        yield os.path.join(root, file_name), None
            if not found:
                yield item, "no audio files (by extension) in this directory"
        elif not path.exists():
            yield item, "no such file or directory"
        else:
            yield item, None


def run(args: argparse.Namespace) -> int:
    """Classify every input on the batch engine and print the results; return the exit code."""
    from genrekit.batch.engine import (
        BatchEngine,
        EngineConfig,
        Job,
        available_cores,
        native_stderr_silenced,
        pipeline_budget,
        registered_model_modules,
    )
    from genrekit.batch.progress import Progress
    from genrekit.bundle.io import read_card

    labels = list(read_card(args.model).labels)
    entries = list(expand_inputs(args.inputs))
    n_jobs = sum(1 for _, problem in entries if problem is None)
    pipeline = n_jobs > 1
    workers, threads = (args.workers or 1, args.threads)
    if pipeline:
        workers, threads = pipeline_budget(available_cores(), args.workers, args.threads)
    config = EngineConfig(
        model=args.model,
        runtime=args.runtime,
        workers=workers,
        threads=threads,
        pipeline=pipeline,
        device=args.device,
        batch_size=args.batch_size,
        batch_windows=args.batch_size,
        predict_options={"top_k": args.top, "hop_s": args.hop, "max_duration_s": args.max_duration,
                         "max_windows": args.max_windows},
        preload=registered_model_modules(),
        verbose=args.verbose,
    )
    jobs = (
        Job(source=sys.stdin.buffer.read() if name == STDIN_NAME else name, name=name)
        for name, problem in entries
        if problem is None
    )
    writer = _make_writer(args.format, sys.stdout, labels, args.top)
    n_failed = 0

    def failed(name: str, error_type: str, reason: str) -> None:
        nonlocal n_failed
        n_failed += 1
        if not args.quiet:
            progress.write(f"genrekit classify: {name}: {reason}")
        with progress.suspended():
            writer.error(name, error_type, reason)
        progress.update(failed=True)

    with native_stderr_silenced(not args.verbose), BatchEngine(config) as engine:
        progress = Progress(len(entries), label="classify", enabled=not args.quiet and len(entries) > 1)
        outcomes = engine.run(jobs)
        for name, problem in entries:
            if problem is not None:
                failed(name, "FileNotFoundError" if "no such" in problem else "NoAudioFiles", problem)
                continue
            outcome = next(outcomes)
            if outcome.prediction is None:
                failed(name, outcome.error_type or "Error", outcome.error or "failed")
                continue
            with progress.suspended():
                writer.result(outcome.prediction)
            progress.update()
        progress.close()
        writer.close()
    n_ok = len(entries) - n_failed
    if len(entries) > 1 or n_failed:
        print(f"{n_ok} classified, {n_failed} failed" + (f" ({progress.rate:.2f} songs/s)" if n_ok else ""),
              file=sys.stderr)
    return 1 if n_failed else 0


class _Writer:
    """Prints results in one format as they come."""

    def __init__(self, out: TextIO, labels: list[str], top: int) -> None:
        self.out = out
        self.labels = labels
        self.top = top

    def result(self, prediction: Any) -> None:
        raise NotImplementedError

    def error(self, name: str, error_type: str, message: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.out.flush()


class _JsonWriter(_Writer):
    def __init__(self, out: TextIO, labels: list[str], top: int) -> None:
        super().__init__(out, labels, top)
        self.items: list[dict[str, Any]] = []

    def result(self, prediction: Any) -> None:
        self.items.append(prediction.to_dict())

    def error(self, name: str, error_type: str, message: str) -> None:
        self.items.append({"name": name, "error": {"type": error_type, "message": message}})

    def close(self) -> None:
        json.dump(self.items, self.out, indent=2)
        self.out.write("\n")
        super().close()


class _CsvWriter(_Writer):
    def __init__(self, out: TextIO, labels: list[str], top: int) -> None:
        super().__init__(out, labels, top)
        self.writer = csv.writer(out, lineterminator="\n")
        self.writer.writerow(
            ["name", "duration_s", "top_genre", "top_score", *labels, "tags", "warnings", "uncertainty", "ood_score", "error"]
        )

    def result(self, prediction: Any) -> None:
        scores = {g.genre: g.score for g in prediction.genres}
        self.writer.writerow(
            [
                prediction.name,
                f"{prediction.duration_s:.3f}",
                prediction.top_genre,
                f"{prediction.genres[0].score:.4f}",
                *(f"{scores[label]:.4f}" for label in self.labels),
                ";".join(f"{t.tag}:{t.score:.3f}" for t in prediction.tags),
                ";".join(prediction.warnings),
                prediction.uncertainty.level,
                "" if prediction.uncertainty.ood_score is None else f"{prediction.uncertainty.ood_score:.4f}",
                "",
            ]
        )
        self.out.flush()

    def error(self, name: str, error_type: str, message: str) -> None:
        self.writer.writerow([name, "", "", "", *([""] * len(self.labels)), "", "", "", "", f"{error_type}: {message}"])
        self.out.flush()


class _TableWriter(_Writer):
    def __init__(self, out: TextIO, labels: list[str], top: int) -> None:
        super().__init__(out, labels, top)
        encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "")
        self.full, self.empty = ("\u2588", "\u00b7") if encoding.startswith("utf") else ("#", ".")
        self.width = max(len(label) for label in labels)

    def result(self, prediction: Any) -> None:
        n_windows = len(prediction.segments)
        read = f"whole song, {n_windows} windows" if prediction.complete else f"first look, {n_windows} spread windows"
        lines = [f"{prediction.name}  ({format_time(prediction.duration_s)}, {read})"]
        for score in prediction.genres[: max(self.top, 1)]:
            n_full = int(round(score.score * BAR_WIDTH))
            bar = self.full * n_full + self.empty * (BAR_WIDTH - n_full)
            lines.append(f"  {score.genre:<{self.width}}  {bar}  {score.score:5.3f}")
        groups = getattr(prediction, "tag_groups", None) or []
        if groups:
            lines.append(
                "  tags: "
                + "; ".join(
                    f"{g.title.lower()}: " + ", ".join(f"{t.tag} {t.score:.2f}" for t in g.tags) for g in groups
                )
            )
        elif prediction.tags:
            lines.append("  tags: " + ", ".join(f"{t.tag} {t.score:.2f}" for t in prediction.tags))
        lines.append("  " + describe_uncertainty(prediction))
        most = describe_shares(prediction)
        if most:
            lines.append("  " + most)
        lines.append("  timeline: " + compact_timeline(prediction.segments))
        lines.extend(f"  warning: {w}" for w in prediction.warnings)
        self.out.write("\n".join(lines) + "\n\n")
        self.out.flush()

    def error(self, name: str, error_type: str, message: str) -> None:
        """Failures are reported once, on standard error (see :func:`run`), not in the table."""


def _make_writer(fmt: str, out: TextIO, labels: list[str], top: int) -> _Writer:
    return {"json": _JsonWriter, "csv": _CsvWriter, "table": _TableWriter}[fmt](out, labels, top)


def describe_uncertainty(prediction: Any) -> str:
    """One line on how far to trust the top genre: confident, mixed (the genres it names), or
    unknown, with what that level has been worth on unseen sources where the card measured it."""
    uncertainty = prediction.uncertainty
    ood = "" if uncertainty.ood_score is None else f" (out-of-taxonomy score {uncertainty.ood_score:.2f})"
    meaning = "" if uncertainty.reliability is None else f"; {uncertainty.reliability.statement}"
    if uncertainty.level == "unknown":
        return f"uncertainty: unknown - probably none of these genres{ood}{meaning}"
    if uncertainty.level == "mixed":
        close = " / ".join(uncertainty.named or [g.genre for g in prediction.genres[:2]])
        return f"uncertainty: mixed - {close}{ood}{meaning}"
    return f"uncertainty: {uncertainty.level}{ood}{meaning}"


def describe_shares(prediction: Any) -> str | None:
    """One line where most windows top another genre than the headline (e.g. ``jazz tops 52%
    of the windows``), saying why they differ; ``None`` where they agree or shares are unknown."""
    shares = getattr(prediction, "shares", None) or []
    if not shares or not prediction.genres:
        return None
    most = max(shares, key=lambda s: s.score)
    top = prediction.genres[0].genre
    top_share = next((s.score for s in shares if s.genre == top), 0.0)
    if most.score <= top_share:
        return None
    return (
        f"windows: {most.genre} tops {most.score:.0%} of them, {top} {top_share:.0%}; "
        f"{top} leads once the windows' scores are combined"
    )


def format_time(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) of a time in seconds, rounded down."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def compact_timeline(segments: list[Any]) -> str:
    """Runs of consecutive windows with the same top genre, e.g. ``0:00-1:12 rock | 1:12-1:30 metal``.

    Windows separated by a gap (a song read from a few spread windows) are not merged.
    """
    runs: list[list[Any]] = []
    for seg in segments:
        if runs and runs[-1][2] == seg.genre and seg.start_s <= runs[-1][1] + 1e-3:
            runs[-1][1] = max(runs[-1][1], seg.end_s)
        else:
            start = seg.start_s if not runs else max(seg.start_s, runs[-1][1])
            runs.append([start, seg.end_s, seg.genre])
    shown = [f"{format_time(a)}-{format_time(b)} {g}" for a, b, g in runs[:MAX_TIMELINE_RUNS]]
    if len(runs) > MAX_TIMELINE_RUNS:
        shown.append(f"... ({len(runs) - MAX_TIMELINE_RUNS} more)")
    return " | ".join(shown)
