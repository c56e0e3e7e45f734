"""``genrekit train``: train a model family on a dataset and write a bundle.

Examples::

    genrekit train --family musicnn_head --data my_folders/ --out my-model
    genrekit train --family svm --data features_30_sec.csv --split filtered
    genrekit train --family cnn2d_logmel --data gtzan/ --config configs/cnn2d_logmel.toml \\
        --set model.n_channels=[8,16,32] --epochs 5 --out cnn --resume
    genrekit train --config configs/default.toml   # rebuild the shipped default model
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from genrekit.cli.extras import require_train_extra
from genrekit.models.families import FAMILIES

SPLIT_CHOICES = ("auto", "filtered", "random", "kfold", "group_kfold", "dataset")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="train a model family on a dataset and write a model bundle",
        description="Train a genre model on a dataset (GTZAN, FMA, a folder per genre, a CSV "
        "manifest, or the Kaggle features_30_sec.csv for table models) and write a "
        "self-contained bundle that 'genrekit classify' and 'genrekit serve --model' load.",
        epilog="Settings resolve as: defaults < family preset < --config file < --set < explicit "
        "options. Unknown keys are errors. The test split is never used for training.",
    )
    parser.add_argument("--family", choices=FAMILIES, help="model family (or 'family' in the config file)")
    parser.add_argument(
        "--data",
        metavar="DIR_OR_CSV",
        help="dataset folder, CSV manifest, or the Kaggle feature table CSV (table families only); "
        "for a default-model recipe (kind = \"default_model\"), the folder holding gtzan-dev/, extra-pool/ and "
        "out-of-taxonomy/ (default: the recipe's 'data', ../shared/data)",
    )
    parser.add_argument(
        "--split",
        choices=SPLIT_CHOICES,
        default=None,
        help="split scheme (default auto: the dataset's own split if every track has one, else random)",
    )
    parser.add_argument("--fold", type=int, default=None, help="held-out fold of kfold/group_kfold (default 0)")
    parser.add_argument("--genres", metavar="G1,G2,...", help="train on these genres only (comma-separated)")
    parser.add_argument("--config", metavar="FILE", help="TOML or YAML training config")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (dotted, e.g. model.n_channels=[8,16] or augment.mixup_alpha=0); repeatable",
    )
    parser.add_argument("--epochs", type=int, default=None, help="maximum number of epochs")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None, help="default auto")
    parser.add_argument("--jobs", type=int, default=None, help="processes for decoding and feature extraction")
    parser.add_argument("--out", metavar="BUNDLE_DIR", help="output bundle directory (default genrekit-<family>)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache (default ~/.cache/genrekit/features)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Resolve the config, train, print where the bundle went."""
    require_train_extra("train")
    from genrekit.training.config import load_config_file, resolve_config

    file_data = load_config_file(args.config) if args.config else None
    if file_data is not None and file_data.get("kind") == "default_model":
        return run_recipe(args, file_data)
    if not args.data:
        print("genrekit train: error: --data is required (a dataset folder, CSV manifest or feature table)", file=sys.stderr)
        raise SystemExit(2)
    from genrekit.training.trainers import train

    genres = [g.strip() for g in args.genres.split(",") if g.strip()] if args.genres else None
    options = {
        "epochs": args.epochs,
        "seed": args.seed,
        "device": args.device,
        "n_jobs": args.jobs,
        "genres": genres,
        "split": {"scheme": args.split, "fold": args.fold},
    }
    config = resolve_config(args.family, file_data=file_data, overrides=args.overrides, options=options)
    out = Path(args.out) if args.out else Path(f"genrekit-{config.family}")

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    result = train(
        config,
        args.data,
        out_dir=out,
        resume=args.resume,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
        log=log,
        config_sources={
            "file": str(args.config) if args.config else None,
            "overrides": list(args.overrides),
            "options": options,
        },
    )
    metrics = result.card.metrics.get("valid", {})
    fields = [str(result.bundle_dir), config.family, f"{result.seconds:.1f}s"]
    if metrics:
        fields += [
            f"valid_accuracy={metrics['accuracy']:.3f}",
            f"valid_macro_f1={metrics['macro_f1']:.3f}",
            f"n_valid={metrics['n_tracks']}",
        ]
    summary = "\t".join(fields)
    print(summary)
    return 0


def run_recipe(args: argparse.Namespace, file_data: dict) -> int:
    """A default-model recipe: grouped cross-validation, selection, bundle (see genrekit.training.recipe)."""
    from genrekit.errors import InvalidParameterError
    from genrekit.training.recipe import run_recipe as run
    from genrekit.training.recipe_config import RecipeConfig

    ignored = [flag for flag, value in (("--family", args.family), ("--split", args.split), ("--set", args.overrides),
                                        ("--epochs", args.epochs), ("--resume", args.resume)) if value]
    if ignored:
        raise InvalidParameterError(f"a default-model recipe takes no {', '.join(ignored)}")
    config = RecipeConfig.from_dict(file_data)
    if args.seed is not None:
        config = dataclasses.replace(config, seed=args.seed)
    data = args.data or config.extra.get("data", "../shared/data")
    out = Path(args.out or config.extra.get("out", "genrekit-default"))

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    result = run(config, data, out_dir=out, cache_dir=args.cache_dir, log=log, config_file=args.config)
    figures = result.card.metrics["unseen_sources_pooled"]
    print("\t".join([str(result.bundle_dir), config.name, f"{result.seconds:.1f}s",
                     f"unseen_sources_accuracy={figures['accuracy']['value']:.3f}",
                     f"card_sha256={result.card_sha256}"]))
    return 0
