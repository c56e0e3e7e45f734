"""``genrekit compare``: a leaderboard of model families on one dataset, honestly split.

See :mod:`genrekit.workbench.compare` for the protocol. ``--leaky`` adds the deliberately
leaky segment-level split next to the honest one, to show how much it inflates accuracy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genrekit.cli.extras import require_train_extra
from genrekit.errors import InvalidParameterError

DEFAULT_OUT = Path("reports") / "compare"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand."""
    parser = subparsers.add_parser(
        "compare",
        help="train and score several model families on one dataset (leaderboard)",
        description="Train each model family on the same folds of one dataset and compare track-level "
        "accuracy and macro-F1 (with spread over folds and bootstrap intervals), training time, "
        "inference time per track and bundle size. Tracks (and known artists) never cross folds.",
        epilog="Example: genrekit compare --data ../shared/data/gtzan-dev --cv 5 --families knn,svm,logreg --leaky",
    )
    parser.add_argument("--data", required=True, metavar="DIR_OR_CSV", help="dataset folder or CSV manifest")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--cv", type=int, metavar="K", help="K-fold cross-validation on train+valid (default 5)")
    mode.add_argument(
        "--split",
        choices=("dataset", "filtered", "random"),
        help="one split instead: the dataset's own, GTZAN's fault-filtered lists, or a seeded random one",
    )
    mode.add_argument(
        "--test-data",
        metavar="DIR_OR_CSV",
        help="score another dataset instead (out-of-distribution test): train on --data (its train+valid)",
    )
    parser.add_argument(
        "--families", default="knn,svm,logreg,random_forest", help="comma-separated families (default: the four classical baselines)"
    )
    parser.add_argument("--out", metavar="DIR", help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--leaky", action="store_true", help="also run the LEAKY segment-level split demonstration")
    parser.add_argument("--seed", type=int, default=0, help="seed of folds, training and bootstrap (default 0)")
    parser.add_argument("--valid-fraction", type=float, default=0.2, help="validation share of each fold's training tracks")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="test share of --split random and of the leaky demo")
    parser.add_argument("--epochs", type=int, help="maximum epochs of the torch families")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="training override for every family, or FAMILY:KEY=VALUE for one")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--n-jobs", type=int, default=1, help="feature-extraction processes")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache folder (default: genrekit's cache)")
    parser.add_argument("--n-bootstrap", type=int, default=1000, help="bootstrap resamples of the pooled intervals")
    parser.add_argument(
        "--score-from-cache",
        action="store_true",
        help="table families: score from the trainer's cached features (much faster; inference timed on 3 tracks per fold)",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="also compare a training config file (e.g. from genrekit tune) beside the defaults; repeatable",
    )
    parser.add_argument("--keep-bundles", action="store_true", help="keep every fold's bundle under OUT/runs")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the comparison, print the leaderboard and save it."""
    require_train_extra("compare")
    from genrekit.datasets import load_dataset
    from genrekit.workbench.compare import CompareSettings, format_comparison_markdown, run_comparison, write_comparison

    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    if args.cv is not None and args.cv < 2:
        raise InvalidParameterError(f"--cv must be >= 2, got {args.cv}")
    settings = CompareSettings(
        families=families,
        cv=None if (args.split or args.test_data) else (args.cv or 5),
        scheme=args.split or "dataset",
        seed=args.seed,
        valid_fraction=args.valid_fraction,
        test_fraction=args.test_fraction,
        n_bootstrap=args.n_bootstrap,
        overrides=tuple(args.set),
        epochs=args.epochs,
        device=args.device,
        n_jobs=args.n_jobs,
        leaky=args.leaky,
        score_from_cache=args.score_from_cache,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        config_files=tuple(args.config),
    )
    dataset = load_dataset(args.data, split_scheme="filtered" if args.split == "filtered" else None)
    out = Path(args.out) if args.out else DEFAULT_OUT

    def log(message: str) -> None:
        print(f"genrekit compare: {message}", file=sys.stderr)

    test_records = None
    if args.test_data:
        test_dataset = load_dataset(args.test_data)
        test_records = list(test_dataset.records)
    result = run_comparison(
        list(dataset.records),
        settings,
        test_records=test_records,
        work_dir=out / "runs" if args.keep_bundles else None,
        log=log,
    )
    result.protocol["data"] = f"{args.data} ({dataset.layout}, {len(dataset)} tracks)"
    if args.test_data:
        result.protocol["test data"] = f"{args.test_data} ({test_dataset.layout}, {len(test_dataset)} tracks)"
    write_comparison(out, result)
    print(format_comparison_markdown(result))
    print(f"leaderboard written to {out}", file=sys.stderr)
    return 1 if result.failures else 0
