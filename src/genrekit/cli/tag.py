"""``genrekit tag``: write predicted genres into the files' own metadata (undoable).

Results come from the database (``--db``) matched to each file; files not stored yet (or
changed) are classified first, as ``genrekit scan`` does, and stored. The top genre (or
the top ``--multi K``) goes into ``--field`` (genre, grouping or comment) of MP3 (ID3),
FLAC/Ogg/Opus (Vorbis comments) and M4A (MP4 atoms); other formats are skipped. A file
whose field already holds a value keeps it unless ``--overwrite``. ``--dry-run`` prints
``old -> new`` per file and changes nothing.

The old values are backed up in ``LIBRARY_DIR/.genrekit/``; ``genrekit tag LIBRARY_DIR
--undo`` restores the last run's. The audio data is never touched: each file is tagged as
a copy, checked, and swapped in.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from genrekit.cli.classify import _positive_int
from genrekit.cli.scan import add_engine_arguments, engine_config


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tag`` subcommand."""
    parser = subparsers.add_parser(
        "tag",
        help="write predicted genres into the files' metadata (ID3, Vorbis, MP4; undoable)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("library", metavar="LIBRARY_DIR", help="the library folder")
    parser.add_argument("--db", metavar="URL", default=None,
                        help="database URL (default: GENREKIT_DATABASE_URL or the service's SQLite file)")
    parser.add_argument("--field", choices=("genre", "grouping", "comment"), default="genre", help="default genre")
    parser.add_argument("--multi", metavar="K", type=_positive_int, default=1, help="write the top K genres (default 1)")
    parser.add_argument("--min-score", metavar="S", type=float, default=None,
                        help="only files whose top score is at least S (0..1)")
    parser.add_argument("--overwrite", action="store_true", help="replace values already in the field")
    parser.add_argument("--dry-run", action="store_true", help="print old -> new per file, change nothing")
    parser.add_argument("--undo", action="store_true", help="restore the values the last run replaced")
    add_engine_arguments(parser)
    parser.set_defaults(func=run)


def _show(values: list[str]) -> str:
    return "; ".join(values) if values else "(none)"


def run(args: argparse.Namespace) -> int:
    """Tag (or undo) and return the exit code."""
    from genrekit.catalog import database, tagging
    from genrekit.catalog.scan import library_root

    library = library_root(args.library)
    _, sessions = database.open_database(args.db)
    if args.undo:
        return _undo(library, sessions)
    _classify_missing(args, library, sessions)
    with sessions() as session:
        tracks = [t for t in database.iter_track_records(session, library=library, min_score=args.min_score)
                  if t.status == "ok" and t.result]
    backup = tagging.new_backup_path(library)
    counts = {"write": 0, "keep": 0, "same": 0, "skip": 0, "failed": 0}
    for track in tracks:
        values = [g["genre"] for g in track.result["genres"][: args.multi]]
        try:
            change = tagging.plan_change(track.path, values, field=args.field, overwrite=args.overwrite)
            if change.action == "skip":
                counts["skip"] += 1
                continue
            if args.dry_run:
                note = {"keep": "  (kept: it has a value; --overwrite replaces it)", "same": "  (already)"}.get(change.action, "")
                print(f"{track.path}: {_show(change.old)} -> {_show(change.new)}{note}")
            elif change.action == "write":
                tagging.apply_change(change, field=args.field, backup=backup)
                _restat(sessions, track.path)
                if not args.quiet:
                    print(f"{track.path}: {_show(change.old)} -> {_show(change.new)}")
            counts[change.action] += 1
        except (tagging.TagError, OSError) as error:
            counts["failed"] += 1
            print(f"genrekit tag: {track.path}: {error}", file=sys.stderr)
    verb = "would write" if args.dry_run else "tagged"
    print(f"{verb} {counts['write']}, kept {counts['keep']} (had a value), already {counts['same']}, "
          f"unsupported format {counts['skip']}, failed {counts['failed']}")
    if counts["write"] and not args.dry_run:
        print(f"backup: {backup}  (undo: genrekit tag {args.library} --undo)")
    return 1 if counts["failed"] else 0


def _restat(sessions: Any, path: str) -> None:
    """Record the tagged file's new size, mtime and hash: its audio (and result) did not change."""
    from genrekit.batch.engine import hash_file
    from genrekit.catalog import database

    info = os.stat(path)
    with sessions() as session:
        database.retag_track(session, path=path, size_bytes=int(info.st_size), mtime_ns=int(info.st_mtime_ns),
                          sha256=hash_file(path))


def _classify_missing(args: argparse.Namespace, library: str, sessions: Any) -> None:
    """Classify and store what the database does not hold yet (as ``genrekit scan``)."""
    from genrekit.batch.engine import BatchEngine, native_stderr_silenced
    from genrekit.batch.progress import Progress
    from genrekit.catalog import database
    from genrekit.catalog.scan import scan_library

    config = engine_config(args)
    model = database.model_identity_of(config.model)

    def on_failure(path: str, reason: str) -> None:
        if not args.quiet:
            print(f"genrekit tag: {path}: not classified: {reason}", file=sys.stderr)

    with native_stderr_silenced(not args.verbose), BatchEngine(config) as engine:
        summary = scan_library(library, sessions=sessions, runner=engine.run, model=model,
                               progress=lambda total: Progress(total, label="classify", enabled=not args.quiet),
                               on_failure=on_failure)
    if summary.n_classified and not args.quiet:
        print(f"classified {summary.n_classified} files not stored yet", file=sys.stderr)


def _undo(library: str, sessions: Any) -> int:
    from genrekit.catalog import tagging

    backup = tagging.latest_backup(library)
    if backup is None:
        print(f"genrekit tag: no tag backup to undo in {library}", file=sys.stderr)
        return 1
    n_restored = n_problems = 0
    for path, problem in tagging.undo_tags(backup):
        if problem is None:
            n_restored += 1
            _restat(sessions, path)
        else:
            n_problems += 1
            print(f"genrekit tag: {path}: {problem}", file=sys.stderr)
    print(f"restored {n_restored} files from {backup}, {n_problems} left alone")
    return 1 if n_problems else 0
