"""``genrekit export``: scan results as CSV/JSON reports, M3U playlists per genre, or Parquet.

Reads what ``genrekit scan`` stored (``--db``, default ``GENREKIT_DATABASE_URL`` or the
service's SQLite file). ``--genre`` keeps one top genre, ``--min-score`` the files whose top
score is at least S (both drop failed files), ``--library`` one scanned folder.

Output: ``--out PATH`` (``-`` or none: standard output, for csv/json/m3u). M3U paths are
relative to the playlist's folder; with ``--format m3u``, no ``--genre`` and an ``--out``
that is a folder (an existing one, or a path ending in ``/``), one ``GENRE.m3u`` is written
per genre. Parquet needs ``--out``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand."""
    parser = subparsers.add_parser(
        "export",
        help="export scan results: csv/json reports, m3u playlists per genre, parquet",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", metavar="URL", default=None,
                        help="database URL (default: GENREKIT_DATABASE_URL or the service's SQLite file)")
    parser.add_argument("--format", choices=("csv", "json", "m3u", "parquet"), default="csv", help="default csv")
    parser.add_argument("--genre", metavar="G", default=None, help="only files whose top genre is G")
    parser.add_argument("--min-score", metavar="S", type=_score, default=None,
                        help="only files whose top score is at least S (0..1)")
    parser.add_argument("--library", metavar="DIR", default=None, help="only files scanned under this folder")
    parser.add_argument("--out", metavar="PATH", default=None, help="output file or folder (default: standard output)")
    parser.set_defaults(func=run)


def _score(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    """Export and return the exit code."""
    from genrekit.catalog import export, database
    from genrekit.catalog.scan import library_root

    _, sessions = database.open_database(args.db)
    to_stdout = args.out in (None, "-")
    with sessions() as session:
        tracks = list(database.iter_track_records(
            session,
            library=library_root(args.library) if args.library else None,
            genre=args.genre,
            min_score=args.min_score,
        ))
    if args.format == "parquet":
        if to_stdout:
            print("genrekit export: --format parquet needs --out FILE", file=sys.stderr)
            return 2
        n_items = export.write_parquet(tracks, Path(args.out))
    elif args.format == "m3u" and args.genre is None and not to_stdout and (
        os.path.isdir(args.out) or args.out.endswith(("/", os.sep))
    ):
        counts = export.write_playlists(tracks, Path(args.out))
        for genre, count in counts.items():
            print(f"{genre}: {count} {'track' if count == 1 else 'tracks'}", file=sys.stderr)
        n_items = sum(counts.values())
    else:
        base_dir = os.getcwd() if to_stdout else os.path.dirname(os.path.abspath(args.out))
        text, n_items = export.export_text(args.format, tracks, base_dir=base_dir)
        if to_stdout:
            sys.stdout.write(text)
        else:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(text, encoding="utf-8")
    if not to_stdout:
        print(f"{n_items} items -> {args.out}", file=sys.stderr)
    return 0
