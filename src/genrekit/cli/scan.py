"""``genrekit scan``: classify a whole library into the service's database, resumably.

Walks ``LIBRARY_DIR`` (symlinks followed without loops, hidden and system files skipped)
for every audio extension genrekit decodes, classifies what is new or changed with the
pipelined batch engine (``--workers`` decoder processes feeding one model that runs many
songs' windows per batch with ``--threads`` threads; ``--device cuda`` runs it on a GPU) or
on Ray (``--engine ray``, the same two stages), and
stores each result as it comes in the database the service uses (``--db``, default
``GENREKIT_DATABASE_URL`` or the service's SQLite file). A rerun (after a crash or
``kill -9`` too) classifies only files that are missing or changed; ``--rescan-stale``
redoes files classified by another model version. A bad file is recorded with its error
and the run goes on. Exit code 1 if any file failed in this run.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from genrekit.cli.classify import _non_negative_int, _positive_int, add_verbosity_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``scan`` subcommand."""
    parser = subparsers.add_parser(
        "scan",
        help="classify a whole music library into the database (resumable)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("library", metavar="LIBRARY_DIR", help="the library folder")
    add_engine_arguments(parser)
    parser.add_argument("--db", metavar="URL", default=None,
                        help="database URL (default: GENREKIT_DATABASE_URL or the service's SQLite file)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local worker processes (default) or Ray Data")
    parser.add_argument("--address", metavar="ADDR", default=None,
                        help="Ray cluster address (default: start a local Ray instance)")
    parser.add_argument("--parquet", metavar="DIR", default=None,
                        help="with --engine ray: write the results as a Parquet dataset instead of the database")
    parser.add_argument("--rescan-stale", action="store_true",
                        help="redo files classified by another model version")
    parser.add_argument("--retry-failed", action="store_true", help="try files that failed before again")
    parser.set_defaults(func=run)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the batch engine shared by ``scan`` and ``tag``."""
    parser.add_argument("--model", metavar="BUNDLE", default=None, help="model bundle (default: the bundled model)")
    parser.add_argument("--runtime", choices=("auto", "onnx", "torch"), default="auto", help="inference runtime")
    parser.add_argument("--workers", metavar="N", type=_positive_int, default=None,
                        help="decoder processes (scan) or worker processes (tag) (default: from the CPU cores)")
    parser.add_argument("--threads", metavar="N", type=_positive_int, default=None,
                        help="inference threads (default: the cores the decoders leave; workers + threads <= cores)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="where the model runs (default: GENREKIT_DEVICE, else cpu); cuda needs "
                             "pip install 'genrekit[gpu]' and an NVIDIA GPU")
    parser.add_argument("--max-windows", metavar="N", type=_non_negative_int, default=None,
                        help="windows per song, spread over it (default: the model's; 0: every window)")
    add_verbosity_arguments(parser)


def engine_config(args: argparse.Namespace, *, pipeline: bool = False, **predict_options: Any) -> Any:
    """The :class:`EngineConfig` of the parsed engine options (``pipeline``: decoders + batched model)."""
    from genrekit.batch.engine import EngineConfig, available_cores, default_workers, pipeline_budget, registered_model_modules

    options = dict(predict_options)
    if getattr(args, "max_windows", None) is not None:
        options["max_windows"] = args.max_windows
    threads = getattr(args, "threads", None)
    if pipeline:
        workers, threads = pipeline_budget(available_cores(), args.workers, threads)
    else:
        workers = args.workers or default_workers()
    return EngineConfig(
        model=args.model,
        runtime=args.runtime,
        workers=workers,
        threads=threads,
        predict_options=options,
        verbose=args.verbose,
        preload=registered_model_modules(),
        pipeline=pipeline,
        device=getattr(args, "device", None),
    )


def run(args: argparse.Namespace) -> int:
    """Scan the library and print the summary; return the exit code."""
    from genrekit.batch.engine import BatchEngine, native_stderr_silenced
    from genrekit.batch.progress import Progress
    from genrekit.catalog import database
    from genrekit.catalog.scan import scan_library, scan_to_parquet

    config = engine_config(args, pipeline=args.engine == "local")  # Ray sizes its stages from the cluster
    model = database.model_identity_of(config.model)
    space = database.embedding_space_of(config.model)
    if space is not None and not args.parquet:  # keep each track's embedding for similarity search
        config = dataclasses.replace(config, embed=True)
    if args.parquet and args.engine != "ray":
        print("genrekit scan: --parquet needs --engine ray", file=sys.stderr)
        return 2
    sessions = None if args.parquet else database.open_database(args.db)[1]

    bars: list[Progress] = []

    def progress(total: int) -> Progress:
        bars.append(Progress(total, label="scan", enabled=not args.quiet))
        return bars[-1]

    def on_failure(path: str, reason: str) -> None:
        if args.quiet:
            return
        message = f"genrekit scan: {path}: {reason}"
        if bars:
            bars[-1].write(message)
        else:
            print(message, file=sys.stderr)

    with native_stderr_silenced(not args.verbose):
        if args.engine == "ray":
            from genrekit.batch.ray_engine import RayRunner

            runner_cm: Any = RayRunner(config, address=args.address, workers=args.workers)
        else:
            runner_cm = BatchEngine(config)
        with runner_cm as runner:
            if args.engine == "ray" and args.parquet:
                n_files, n_failed = scan_to_parquet(runner, args.library, args.parquet)
                print(f"{n_files} files: {n_files - n_failed} classified, {n_failed} failed -> {args.parquet}")
                return 1 if n_failed else 0
            summary = scan_library(args.library, sessions=sessions, runner=runner.run, model=model,
                                   rescan_stale=args.rescan_stale, retry_failed=args.retry_failed,
                                   progress=progress, on_failure=on_failure, embedding_space=space)
        for line in summary.lines():
            print(line)
    return 1 if summary.n_failed else 0
