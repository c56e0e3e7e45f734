"""``genrekit retrain``: a challenger from the base training data plus editors' corrections,
promoted only when it is not worse than the champion on the same held-out data.

Examples::

    genrekit retrain --data my_manifest.csv
    genrekit retrain --data gtzan/ --metric accuracy --max-drop 0.01
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from genrekit.cli.models import add_registry_option, registry_from

RETRAIN_DATA_ENV = "GENREKIT_RETRAIN_DATA"  # default --data (deployments: the CronJob and compose's retrain)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``retrain`` subcommand."""
    parser = subparsers.add_parser(
        "retrain",
        help="retrain from corrections; promote only a challenger that is not worse",
        description="Train a challenger on the base training data plus the accepted corrections, evaluate "
        "champion and challenger on the same held-out tracks (split by artist group, seeded), and promote "
        "the challenger only when it is not worse by the rule given. Every decision is logged in the registry.",
    )
    add_registry_option(parser)
    parser.add_argument(
        "--data", default=os.environ.get(RETRAIN_DATA_ENV), metavar="DIR_OR_CSV",
        help=f"base training data: dataset folder or CSV manifest (default: {RETRAIN_DATA_ENV})",
    )
    parser.add_argument("--database-url", default=None, help="the service's database (default: GENREKIT_DATABASE_URL or SQLite)")
    parser.add_argument("--metric", choices=("macro_f1", "accuracy"), default="macro_f1", help="rule metric (default %(default)s)")
    parser.add_argument(
        "--max-drop", type=float, default=0.0,
        help="promote when challenger >= champion - MAX_DROP on the metric (default %(default)s: not worse)",
    )
    parser.add_argument("--test-fraction", type=float, default=0.25, help="share of artist groups held out (default %(default)s)")
    parser.add_argument("--valid-fraction", type=float, default=0.15, help="share held for validation (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-out split and of training (default 0)")
    parser.add_argument("--family", default=None, help="train this family instead of the champion's")
    parser.add_argument("--config", metavar="FILE", help="training config file instead of the champion's")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the manifest and challenger here")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache (default ~/.cache/genrekit/features)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Retrain, evaluate, decide; exit 0 whether promoted or refused (the registry logs which)."""
    from genrekit.cli.extras import require_train_extra

    require_train_extra("retrain")
    from genrekit.lifecycle.retrain import PromotionRule, retrain
    from genrekit.service.config import Settings
    from genrekit.training.config import load_config_file, resolve_config

    if not args.data:
        print(f"genrekit retrain: error: give --data or set {RETRAIN_DATA_ENV}", file=sys.stderr)
        return 2
    config = None
    if args.family or args.config or args.overrides:
        file_data = load_config_file(args.config) if args.config else None
        config = resolve_config(args.family, file_data=file_data, overrides=args.overrides, options={})
    settings = Settings(**({"database_url": args.database_url} if args.database_url else {}))
    result = retrain(
        registry=registry_from(args),
        database_url=settings.resolved_database_url,
        data=args.data,
        work_dir=args.work_dir,
        config=config,
        rule=PromotionRule(metric=args.metric, max_drop=args.max_drop),
        seed=args.seed,
        test_fraction=args.test_fraction,
        valid_fraction=args.valid_fraction,
        cache_dir=args.cache_dir,
        log=lambda message: print(message, file=sys.stderr, flush=True),
    )
    print(f"{'promoted' if result.promoted else 'refused'}\t{result.challenger}\t{result.reason}")
    return 0
