"""``genrekit organize``: genre folders from scan results (links, copies or moves), undoable.

Every classified file of ``LIBRARY_DIR`` (as stored by ``genrekit scan``; scan first) goes
to ``OUT_DIR/<genre>/<file name>``; names already taken get `` (2)``, `` (3)``, ...
``--mode move`` never loses a file (atomic rename, or copy + check + rename before the
source is removed). Each run writes a manifest in ``OUT_DIR/.genrekit/`` (its path is
printed); ``genrekit organize --undo MANIFEST`` reverses it.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``organize`` subcommand."""
    parser = subparsers.add_parser(
        "organize",
        help="make genre folders of a scanned library (symlink, copy or move; undoable)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("library", metavar="LIBRARY_DIR", nargs="?", help="the scanned library folder")
    parser.add_argument("out_dir", metavar="OUT_DIR", nargs="?", help="where the genre folders go")
    parser.add_argument("--mode", choices=("symlink", "copy", "move"), default="symlink", help="default symlink")
    parser.add_argument("--dry-run", action="store_true", help="print source -> target, change nothing")
    parser.add_argument("--undo", metavar="MANIFEST", default=None, help="reverse the run that wrote this manifest")
    parser.add_argument("--min-score", metavar="S", type=float, default=None,
                        help="only files whose top score is at least S (0..1)")
    parser.add_argument("--db", metavar="URL", default=None,
                        help="database URL (default: GENREKIT_DATABASE_URL or the service's SQLite file)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems and the summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Organize (or undo) and return the exit code."""
    from genrekit.catalog import organize, database
    from genrekit.catalog.scan import library_root

    if args.undo:
        n_undone = n_problems = 0
        for entry, problem in organize.undo(args.undo):
            if problem is None:
                n_undone += 1
            else:
                n_problems += 1
                print(f"genrekit organize: {entry['target']}: {problem}", file=sys.stderr)
        print(f"undone: {n_undone}, left alone: {n_problems}")
        return 1 if n_problems else 0
    if not args.library or not args.out_dir:
        print("genrekit organize: LIBRARY_DIR and OUT_DIR are required (or --undo MANIFEST)", file=sys.stderr)
        return 2
    _, sessions = database.open_database(args.db)
    library = library_root(args.library)
    with sessions() as session:
        tracks = list(database.iter_track_records(session, library=library, min_score=args.min_score))
    placements = organize.plan(tracks, args.out_dir)
    n_skipped = len(tracks) - len(placements)
    if not tracks:
        print(f"genrekit organize: nothing stored for {library}: run genrekit scan on it first", file=sys.stderr)
        return 1
    if args.dry_run:
        for placement in placements:
            print(f"{placement.source} -> {placement.target}")
        print(f"{len(placements)} files would be placed ({args.mode}), {n_skipped} not classified")
        return 0
    manifest = organize.new_manifest_path(args.out_dir)
    n_done = n_failed = 0
    for placement, error in organize.run_organize(placements, mode=args.mode, manifest=manifest):
        if error is None:
            n_done += 1
            if not args.quiet:
                print(f"{placement.source} -> {placement.target}")
        else:
            n_failed += 1
            print(f"genrekit organize: {placement.source}: {error}", file=sys.stderr)
    print(f"{n_done} files placed ({args.mode}), {n_failed} failed, {n_skipped} not classified")
    print(f"manifest: {manifest}  (undo: genrekit organize --undo {manifest})")
    return 1 if n_failed else 0
