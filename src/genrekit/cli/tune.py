"""``genrekit tune``: hyper-parameter search for one family, under grouped cross-validation.

Examples::

    genrekit tune --family logreg --data ../shared/data/gtzan-features_30_sec-trainvalid.csv --trials 30
    genrekit tune --family musicnn_head --data ../shared/data/gtzan-dev --trials 20 --out tuned/musicnn_head.toml
    # a second process (or machine) joins the same study:
    genrekit tune --family musicnn_head --data ... --storage postgresql+psycopg://me@db/tune --study head-gtzan

See :mod:`genrekit.tuning.study` for how studies resume and are shared.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genrekit.errors import InvalidParameterError

CONFIG_DIRNAME = "configs"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tune`` subcommand."""
    parser = subparsers.add_parser(
        "tune",
        help="search a family's hyper-parameters (Optuna) under grouped cross-validation",
        description="Search the settings declared in the [search] table of a family's config with "
        "Optuna's TPE sampler and a median pruner, scoring each trial by grouped k-fold "
        "cross-validation (tracks and known artists never cross folds). The study is stored in a "
        "database: rerun the same command to resume it, or start more processes to share it. "
        "Writes a tuned config for 'genrekit train --config' and a report.",
        epilog="The hand-set config is always trial 0, so the report compares it with the best trial "
        "under the same folds.",
    )
    parser.add_argument("--family", required=True, help="model family")
    parser.add_argument("--data", required=True, metavar="DIR_OR_CSV", help="dataset folder, manifest or feature table")
    parser.add_argument("--config", metavar="FILE", help="base config with its [search] table (default configs/FAMILY.toml)")
    parser.add_argument("--trials", type=int, default=20, help="finished trials the study should hold, all processes together (default 20)")
    parser.add_argument("--timeout", type=float, metavar="S", help="stop this process after S seconds (the running trial finishes)")
    parser.add_argument("--storage", metavar="URL", help="study database URL (default sqlite:///genrekit-tune.sqlite3; PostgreSQL: postgresql+psycopg://...)")
    parser.add_argument("--study", metavar="NAME", help="study name (default FAMILY-DATANAME)")
    parser.add_argument("--out", metavar="CONFIG", help="tuned config to write, .toml or .yaml (default tuned/FAMILY.toml)")
    parser.add_argument("--report", metavar="DIR", help="report folder (default: beside --out, CONFIG-report)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    parser.add_argument("--fold-scheme", choices=("kfold", "group_kfold"), default="kfold", help="kfold: stratified by track, known groups kept whole; group_kfold: by group")
    parser.add_argument("--seed", type=int, default=0, help="seed of the folds and of training (default 0)")
    parser.add_argument("--metric", choices=("macro_f1", "accuracy"), default="macro_f1")
    parser.add_argument("--valid-fraction", type=float, default=0.2, help="validation share of each fold's training tracks")
    parser.add_argument("--sampler-seed", type=int, help="seed of the TPE sampler (default: random, right for shared studies)")
    parser.add_argument("--no-prune", action="store_true", help="run every trial to the end")
    parser.add_argument("--heartbeat", type=int, default=30, metavar="S", help="trial heartbeat; a trial silent for 3x this is re-queued (default 30)")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--n-jobs", type=int, default=1, help="feature-extraction processes")
    parser.add_argument("--cache-dir", metavar="DIR", help="feature cache folder (default: genrekit's cache)")
    parser.add_argument("--n-bootstrap", type=int, default=1000, help="bootstrap resamples of the report's intervals")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(func=run)


def default_config_path(family: str) -> Path:
    """The config holding the family's search space (``search`` of its
    :class:`~genrekit.models.families.Family`, e.g. ``configs/FAMILY.toml``) in the working
    folder, else in the source checkout.

    Raises
    ------
    InvalidParameterError
        Unknown family, or no such file.
    """
    from genrekit.models.families import get_family

    name = get_family(family).search
    local = Path(CONFIG_DIRNAME) / name
    if local.is_file():
        return local
    import genrekit

    checkout = Path(genrekit.__file__).resolve().parents[2] / CONFIG_DIRNAME / name
    if checkout.is_file():
        return checkout
    raise InvalidParameterError(f"no config for {family}: pass --config FILE with a [search] table")


def run(args: argparse.Namespace) -> int:
    """Run or resume the study, then write the tuned config and the report."""
    from genrekit.models.families import get_family
    from genrekit.training.config import load_config_file
    from genrekit.tuning.objective import CVSettings
    from genrekit.tuning.study import DEFAULT_STORAGE, TuneSettings, run_tuning, tuned_config, write_config, write_report

    get_family(args.family)  # an unknown family is an error before anything is read
    config_path = Path(args.config) if args.config else default_config_path(args.family)
    base = load_config_file(config_path)
    if base.get("family", args.family) != args.family:
        raise InvalidParameterError(f"{config_path} is a {base['family']} config, not {args.family}")
    data_name = Path(args.data).stem if Path(args.data).suffix else Path(args.data).name
    settings = TuneSettings(
        family=args.family,
        base_config=base,
        data=str(args.data),
        n_trials=args.trials,
        timeout_s=args.timeout,
        storage=args.storage or DEFAULT_STORAGE,
        study_name=args.study or f"{args.family}-{data_name}",
        cv=CVSettings(
            n_folds=args.folds,
            scheme=args.fold_scheme,
            seed=args.seed,
            valid_fraction=args.valid_fraction,
            metric=args.metric,
            cache_dir=Path(args.cache_dir) if args.cache_dir else None,
            n_jobs=args.n_jobs,
            device=args.device,
        ),
        sampler_seed=args.sampler_seed,
        prune=not args.no_prune,
        heartbeat_s=args.heartbeat,
        grace_s=3 * args.heartbeat,
    )

    def log(message: str) -> None:
        if not args.quiet:
            print(f"genrekit tune: {message}", file=sys.stderr, flush=True)

    study = run_tuning(settings, log=log)
    out = Path(args.out) if args.out else Path("tuned") / f"{args.family}.toml"
    write_config(out, tuned_config(settings, study))
    report_dir = Path(args.report) if args.report else out.with_name(f"{out.stem}-report")
    report = write_report(settings, study, report_dir, n_bootstrap=args.n_bootstrap)
    best = report["best"]
    print(f"{out}\tbest trial {best['trial']}\t{settings.cv.metric}={best['value']:.4f}\treport {report_dir / 'report.md'}")
    for name, fig in report["cv_figures"].items():
        print(
            f"  {name:<9} trial {fig['trial']:>3}: folds {fig['fold_mean']:.3f} ± {fig['fold_sd']:.3f}; pooled macro-F1 "
            f"{fig['macro_f1']['value']:.3f} [{fig['macro_f1']['low']:.3f}, {fig['macro_f1']['high']:.3f}]"
        )
    return 0
