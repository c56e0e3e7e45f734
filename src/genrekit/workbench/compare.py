"""Leaderboard of model families on one dataset: the engine of ``genrekit compare``.

This module is an edge: it writes manifests and bundles into a work folder, trains through
:func:`genrekit.training.trainers.train` and classifies through
:class:`genrekit.predict.Classifier`.

Protocol
--------
* ``cv=K``: stratified k-fold by track (:func:`genrekit.training.splits.iter_folds`,
  scheme ``"kfold"``; known artist groups never cross folds) over the dataset's train and
  valid tracks; its test tracks, if any, are left untouched. For each fold, each family
  trains on the other folds, of which ``valid_fraction`` (stratified) is its validation
  side for early stopping and calibration, and is scored on the held-out fold.
* single split (``cv=None``): the dataset's own split (``scheme="dataset"``, or GTZAN's
  ``"filtered"`` lists, or a seeded ``"random"`` one); the scored side is test, or valid
  where there is no test, in which case the family's own validation tracks are carved out
  of train, so the scored tracks are never used to fit or tune anything.

The trainer receives exactly the tracks it may use, as a CSV manifest with their split
column (``scheme="dataset"``); the scored tracks are not in it. Per family, the report gives
per-fold accuracy and macro-F1 (mean and sample sd), the pooled out-of-fold metrics with a
bootstrap interval, training time, inference time per track and bundle size.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.errors import DatasetError, GenrekitError, InvalidParameterError
from genrekit.evaluation.leaderboard import (
    FoldRun,
    LeaderboardRow,
    format_leaderboard_csv,
    format_leaderboard_markdown,
)
from genrekit.workbench.leakage import LeakageComparison, segment_leakage_comparison
from genrekit.evaluation.metrics import evaluate_predictions
from genrekit.models.families import FAMILIES, TABLE, get_family
from genrekit.training.data import TABLE_FEATURE_NAME, cached_arrays, table_feature_rows

DEFAULT_FAMILIES = ("knn", "svm", "logreg", "random_forest")
SINGLE_SPLIT_SCHEMES = ("dataset", "filtered", "random")
LEAKY_SEGMENT_S = 3.0  # seconds per segment in the leaky demonstration
LEAKY_ESTIMATORS = ("knn", "logreg")
MB = 1_000_000  # bytes


@dataclass(frozen=True)
class CompareSettings:
    """What ``genrekit compare`` runs.

    Attributes
    ----------
    families : tuple of str
        Families of :data:`genrekit.models.families.FAMILIES`.
    cv : int or None
        Number of folds; ``None`` for a single split.
    scheme : {"dataset", "filtered", "random"}
        Single-split scheme.
    seed : int
        Seeds the folds, the inner validation carve-out, training and the bootstrap.
    valid_fraction : float in [0, 1)
        Share of each fold's training tracks used for validation.
    test_fraction : float in (0, 1)
        Test share of the ``"random"`` single split.
    n_bootstrap : int
        Resamples of the pooled intervals.
    overrides : tuple of str
        ``key=value`` training overrides applied to every family, or
        ``family:key=value`` applied to one (``--set``).
    epochs : int or None
        Maximum epochs of the torch families (``None``: each family's default).
    device : str
    n_jobs : int
        Worker processes for feature extraction.
    cache_dir : Path or None
        Feature cache (``None``: the default one).
    leaky : bool
        Also run the leaky segment-split demonstration.
    leaky_repeats : int
        Repeats (seeds) of the demonstration.
    score_from_cache : bool
        Table families (knn, svm, logreg, random_forest) only: score the held-out tracks
        from the trainer's cached window features (the same windows and features the
        trainer's validation uses) instead of extracting them again through the
        :class:`~genrekit.predict.Classifier`; their inference time is then measured with
        the Classifier on ``n_timing_tracks`` tracks per fold. Saves minutes per family:
        the 57 table features of a 30 s clip take seconds on one CPU core.
    n_timing_tracks : int
        Tracks per fold timed through the Classifier when scoring from the cache.
    config_files : tuple of str
        Training config files (e.g. the output of ``genrekit tune``), each compared as one
        more row named ``family (file stem)``, beside the families' default settings.
    """

    families: tuple[str, ...] = DEFAULT_FAMILIES
    cv: int | None = 5
    scheme: str = "dataset"
    seed: int = 0
    valid_fraction: float = 0.2
    test_fraction: float = 0.2
    n_bootstrap: int = 1000
    overrides: tuple[str, ...] = ()
    epochs: int | None = None
    device: str = "auto"
    n_jobs: int = 1
    cache_dir: Path | None = None
    leaky: bool = False
    leaky_repeats: int = 5
    score_from_cache: bool = False
    n_timing_tracks: int = 3
    config_files: tuple[str, ...] = ()


@dataclass
class ComparisonResult:
    """Everything ``genrekit compare`` measured."""

    rows: list[LeaderboardRow]
    protocol: dict[str, Any]
    leakage: list[LeakageComparison] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "protocol": self.protocol,
            "rows": [row.to_dict() for row in self.rows],
            "leakage": [item.to_dict() for item in self.leakage],
            "failures": list(self.failures),
        }


def plan_folds(
    records: Sequence[Any], settings: CompareSettings, *, test_records: Sequence[Any] | None = None
) -> tuple[list[tuple[int, dict[str, list[Any]]]], dict[str, Any]]:
    """The folds to run: ``(fold, {"train", "valid", "test"})``, test being the scored side.

    Parameters
    ----------
    records : sequence of TrackRecord
        The dataset to train on (and to score, without ``test_records``).
    settings : CompareSettings
    test_records : sequence of TrackRecord or None
        Another dataset to score (out-of-distribution test): the families train on all of
        ``records`` except its test split (its valid split, or a stratified carve-out of
        ``valid_fraction`` where it has none, is their validation side). Scored tracks
        whose label is not among the training labels are left out and counted.

    Returns
    -------
    (list, dict)
        The folds and a description of the protocol.
    """
    from genrekit.training.splits import check_no_leakage, iter_folds, make_splits

    records = list(records)
    if test_records is not None:
        pool = [r for r in records if r.split != "test"]
        if all(r.split is not None for r in pool) and any(r.split == "valid" for r in pool):
            fold = {"train": [r for r in pool if r.split == "train"], "valid": [r for r in pool if r.split == "valid"]}
            validation = "the training dataset's own valid split"
        else:
            inner = make_splits(pool, "random", seed=settings.seed, valid_fraction=settings.valid_fraction)
            fold = {"train": inner["train"], "valid": inner["valid"]}
            validation = f"a stratified {settings.valid_fraction:.0%} of the training tracks"
        known = {r.label for r in fold["train"]}
        fold["test"] = [r for r in test_records if r.label in known]
        excluded = Counter(r.label for r in test_records if r.label not in known)
        if not fold["test"]:
            raise DatasetError("no test track has a label the training data knows")
        check_no_leakage(fold)
        protocol = {
            "kind": "train on one dataset, score another",
            "training tracks": len(fold["train"]),
            "validation tracks": f"{len(fold['valid'])} ({validation})",
            "scored tracks": len(fold["test"]),
            "scored tracks left out (label unknown to training)": [f"{k}: {v}" for k, v in sorted(excluded.items())],
            "seed": settings.seed,
        }
        return [(0, fold)], protocol
    if settings.cv is not None:
        pool = [r for r in records if r.split != "test"]
        n_held_out = len(records) - len(pool)
        folds = list(iter_folds(pool, "kfold", seed=settings.seed, n_folds=settings.cv, valid_fraction=settings.valid_fraction))
        protocol = {
            "kind": "cross-validation",
            "scheme": "kfold (stratified by label, by track; known artist groups kept whole)",
            "n_folds": settings.cv,
            "seed": settings.seed,
            "valid_fraction_of_training_folds": settings.valid_fraction,
            "n_tracks": len(pool),
            "test_tracks_left_untouched": n_held_out,
        }
        return folds, protocol
    if settings.scheme not in SINGLE_SPLIT_SCHEMES:
        raise InvalidParameterError(f"single-split scheme must be one of {SINGLE_SPLIT_SCHEMES}, got {settings.scheme!r}")
    test_fraction = settings.test_fraction if settings.scheme == "random" else 0.0
    splits = make_splits(records, settings.scheme, seed=settings.seed, valid_fraction=settings.valid_fraction, test_fraction=test_fraction)
    scored_side = "test" if splits["test"] else "valid"
    if not splits[scored_side]:
        raise DatasetError(f"split {settings.scheme!r} leaves no test or valid track to score")
    if scored_side == "valid":
        inner = make_splits(splits["train"], "random", seed=settings.seed, valid_fraction=settings.valid_fraction)
        fold = {"train": inner["train"], "valid": inner["valid"], "test": splits["valid"]}
    else:
        fold = {"train": splits["train"], "valid": splits["valid"], "test": splits["test"]}
    check_no_leakage(fold)
    protocol = {
        "kind": "single split",
        "scheme": settings.scheme,
        "scored_side": scored_side,
        "seed": settings.seed,
        "n_tracks": sum(len(v) for v in fold.values()),
        "note": (
            "the dataset has no test split: its valid tracks are scored and each family's validation "
            "tracks are carved out of train"
            if scored_side == "valid"
            else "the dataset's test tracks are scored"
        ),
    }
    return [(0, fold)], protocol


def bundle_size_mb(bundle_dir: Path) -> float:
    """Size (MB) of a bundle's card and weights."""
    from genrekit.bundle.io import CARD_FILENAME, WEIGHTS_FILENAME

    return sum((bundle_dir / name).stat().st_size for name in (CARD_FILENAME, WEIGHTS_FILENAME)) / MB


def align_columns(proba: np.ndarray, model_labels: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Columns of ``proba`` (model labels) placed in ``labels`` order; absent labels get 0."""
    out = np.zeros((proba.shape[0], len(labels)))
    index = {lab: i for i, lab in enumerate(labels)}
    for j, lab in enumerate(model_labels):
        out[:, index[lab]] = proba[:, j]
    return out


def run_family_fold(
    family: str,
    fold: int,
    splits: Mapping[str, Sequence[Any]],
    labels: Sequence[str],
    settings: CompareSettings,
    work_dir: Path,
    *,
    log: Callable[[str], None],
    config_file: str | None = None,
    row_name: str | None = None,
) -> tuple[FoldRun, list[Any], np.ndarray]:
    """Train one family on one fold and score its held-out tracks.

    ``config_file`` trains with that file's settings instead of the family's defaults;
    ``row_name`` names the row (default: the family).

    Returns
    -------
    (FoldRun, list of TrackRecord, np.ndarray [shape=(n_scored, len(labels))])
        The fold's figures, the scored records and their probabilities in ``labels`` order.
    """
    from genrekit.evaluation.inference import predict_tracks
    from genrekit.predict import Classifier
    from genrekit.training.config import load_config_file
    from genrekit.training.folds import train_family_fold

    row_name = row_name or family
    result, train_s = train_family_fold(
        family,
        work_dir / row_name.replace(" ", "_").replace("(", "").replace(")", "") / f"fold{fold}",
        splits,
        seed=settings.seed,
        device=settings.device,
        n_jobs=settings.n_jobs,
        epochs=settings.epochs,
        overrides=settings.overrides,
        cache_dir=settings.cache_dir,
        log=log,
        file_data=load_config_file(config_file) if config_file else None,
    )
    classifier = Classifier.load(result.bundle_dir)
    if settings.score_from_cache and get_family(family).trainer == TABLE:
        scores = score_table_from_cache(classifier, splits["test"], settings)
        timed = predict_tracks(classifier, splits["test"][: settings.n_timing_tracks])
        scores.inference_s = timed.inference_s
    else:
        scores = predict_tracks(classifier, splits["test"], on_failure=lambda p, m: log(f"{p}: {m}; skipped"))
    proba = align_columns(scores.proba, classifier.labels, labels) if scores.records else np.zeros((0, len(labels)))
    if scores.records:
        fold_eval = evaluate_predictions([r.label for r in scores.records], proba, labels, n_bootstrap=0)
        accuracy, macro_f1 = fold_eval.accuracy.value, fold_eval.macro_f1.value
    else:
        accuracy = macro_f1 = math.nan
    run = FoldRun(
        family=row_name,
        fold=fold,
        n_train=len(splits["train"]),
        n_valid=len(splits["valid"]),
        n_test=len(splits["test"]),
        accuracy=accuracy,
        macro_f1=macro_f1,
        train_s=train_s,
        ms_per_track=scores.ms_per_track,
        bundle_mb=bundle_size_mb(result.bundle_dir),
        n_failed=len(scores.failures),
    )
    return run, scores.records, proba


def _cached_table_rows(
    records: Sequence[Any], params: dict[str, Any], settings: CompareSettings
) -> tuple[list[np.ndarray | None], list[dict[str, str]]]:
    """The 57 table features of each window of each record (``params``: ``sr`` in Hz,
    ``window_s`` and ``max_track_s`` in seconds), through the trainer's feature cache:
    one array per record (``None`` where it failed) and the failures."""
    from genrekit.datasets import FeatureCache

    return cached_arrays(
        list(records),
        table_feature_rows,
        params,
        cache=FeatureCache(settings.cache_dir),
        feature=TABLE_FEATURE_NAME,
        n_jobs=settings.n_jobs,
        progress=False,
    )


def score_table_from_cache(classifier: Any, records: Sequence[Any], settings: CompareSettings) -> Any:
    """Track-level probabilities of a table model from the trainer's cached window features.

    The rows are :func:`genrekit.training.data.table_feature_rows` with the bundle's
    training parameters (read from the same cache entries the trainer filled); a track's
    probabilities are the mean of its windows'.

    Returns
    -------
    TrackScores
        Without timings.
    """
    from genrekit.evaluation.inference import TrackScores

    card = classifier.card
    config = card.training.get("config", {})
    params = {
        "sr": config.get("sample_rate", card.sample_rate),
        "window_s": config.get("window_s", card.window_s),
        "max_track_s": config.get("max_track_s", 30.0),
    }
    arrays, failures = _cached_table_rows(records, params, settings)
    estimator = classifier.model.estimator
    kept, rows = [], []
    for record, array in zip(records, arrays):
        if array is None:
            continue
        kept.append(record)
        rows.append(np.asarray(estimator.predict_proba(np.asarray(array, dtype=np.float64))).mean(axis=0))
    proba = np.stack(rows) if rows else np.zeros((0, len(classifier.labels)))
    return TrackScores(
        records=kept,
        proba=proba / proba.sum(axis=1, keepdims=True) if rows else proba,
        labels=list(classifier.labels),
        failures=[(f["path"], f["error"]) for f in failures],
    )


def run_comparison(
    records: Sequence[Any],
    settings: CompareSettings,
    *,
    test_records: Sequence[Any] | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> ComparisonResult:
    """Train and score every family on every fold; pool the out-of-fold predictions.

    Parameters
    ----------
    records : sequence of TrackRecord
        The dataset's tracks.
    settings : CompareSettings
    test_records : sequence of TrackRecord or None
        Another dataset to score instead of cross-validating (see :func:`plan_folds`).
    work_dir : path or None
        Where fold manifests and bundles go (kept); ``None``: a temporary folder, removed.
    log : callable or None
        Receives one progress line at a time.

    Returns
    -------
    ComparisonResult
        A family whose training fails on some fold is reported in ``failures`` and keeps
        the folds that worked.
    """
    log = log or (lambda message: None)
    unknown = [f for f in settings.families if f not in FAMILIES]
    if unknown:
        raise InvalidParameterError(f"unknown families {', '.join(unknown)}; choose from {', '.join(FAMILIES)}")
    if not settings.families and not settings.config_files:
        raise InvalidParameterError("no family to compare")
    folds, protocol = plan_folds(records, settings, test_records=test_records)
    labels = sorted({r.label for _, fold in folds for side in fold.values() for r in side})
    protocol.update({"families": [name for name, _, _ in comparison_rows(settings)], "labels": labels, "n_bootstrap": settings.n_bootstrap})
    if settings.score_from_cache:
        protocol["scoring"] = (
            "table families scored from the trainer's cached window features; their inference time "
            f"measured with the Classifier on {settings.n_timing_tracks} tracks per fold"
        )
    temporary = work_dir is None
    root = Path(tempfile.mkdtemp(prefix="genrekit-compare-")) if temporary else Path(work_dir)
    rows: list[LeaderboardRow] = []
    failures: list[str] = []
    try:
        for name, family, config_file in comparison_rows(settings):
            runs: list[FoldRun] = []
            scored: list[Any] = []
            probas: list[np.ndarray] = []
            notes: list[str] = []
            for fold, splits in folds:
                log(f"{name}: fold {fold + 1}/{len(folds)} ({len(splits['train'])} train, "
                    f"{len(splits['valid'])} valid, {len(splits['test'])} scored tracks)")
                try:
                    run, fold_records, proba = run_family_fold(
                        family, fold, splits, labels, settings, root, log=log, config_file=config_file, row_name=name
                    )
                except GenrekitError as e:
                    message = f"{name} fold {fold}: {type(e).__name__}: {e}"
                    failures.append(message)
                    notes.append(message)
                    log(message)
                    continue
                runs.append(run)
                scored.extend(fold_records)
                probas.append(proba)
                log(f"{name}: fold {fold + 1}: accuracy {run.accuracy:.3f}, macro-F1 {run.macro_f1:.3f}, "
                    f"{run.train_s:.1f} s training")
            pooled = None
            if scored:
                pooled = evaluate_predictions(
                    [r.label for r in scored], np.concatenate(probas), labels, n_bootstrap=settings.n_bootstrap, seed=settings.seed
                )
            rows.append(LeaderboardRow(family=name, folds=runs, pooled=pooled, notes=notes))
        leakage = run_leakage_demo(records, settings, log=log) if settings.leaky else []
    finally:
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
    return ComparisonResult(rows=rows, protocol=protocol, leakage=leakage, failures=failures)


def comparison_rows(settings: CompareSettings) -> list[tuple[str, str, str | None]]:
    """``(row name, family, config file or None)``: each family with its defaults, then each config file.

    Raises
    ------
    InvalidParameterError
        A config file without a known ``family``.
    """
    from genrekit.training.config import load_config_file

    rows: list[tuple[str, str, str | None]] = [(family, family, None) for family in settings.families]
    for path in settings.config_files:
        family = load_config_file(path).get("family")
        if family not in FAMILIES:
            raise InvalidParameterError(f"config {path} names no known family (family = {family!r})")
        rows.append((f"{family} ({Path(path).stem})", family, str(path)))
    return rows


def run_leakage_demo(records: Sequence[Any], settings: CompareSettings, *, log: Callable[[str], None]) -> list[LeakageComparison]:
    """The leaky segment split next to the honest one, for each of :data:`LEAKY_ESTIMATORS`.

    Every track (train and valid; test left untouched) is cut into 3 s segments; each
    segment gets the 57 table features (cached). See :mod:`genrekit.workbench.leakage`.
    """
    from genrekit.models.baselines import make_baseline

    pool = [r for r in records if r.split != "test"]
    log(f"leaky demo: table features of {LEAKY_SEGMENT_S:g} s segments of {len(pool)} tracks")
    params = {"sr": 22050, "window_s": LEAKY_SEGMENT_S, "max_track_s": 30.0}
    arrays, _ = _cached_table_rows(pool, params, settings)
    features, labels, tracks = [], [], []
    for record, array in zip(pool, arrays):
        if array is None:
            continue
        for row in array:
            features.append(row)
            labels.append(record.label)
            tracks.append(record.track_id)
    if len(set(tracks)) < 4:
        raise DatasetError("the leaky demonstration needs at least 4 readable tracks")
    out = []
    for kind in LEAKY_ESTIMATORS:
        comparison = segment_leakage_comparison(
            np.asarray(features),
            labels,
            tracks,
            lambda kind=kind: make_baseline(kind),
            estimator_name=kind,
            seed=settings.seed,
            n_repeats=settings.leaky_repeats,
            test_fraction=settings.test_fraction,
        )
        log(
            f"leaky demo ({kind}): segment accuracy {np.mean(comparison.leaky_segment_accuracy):.3f} with a "
            f"leaky split vs {np.mean(comparison.honest_segment_accuracy):.3f} honest"
        )
        out.append(comparison)
    return out


def format_leakage_markdown(items: Sequence[LeakageComparison]) -> str:
    """The leaky-vs-honest table in Markdown (means ± sd over repeats)."""
    if not items:
        return ""
    first = items[0]
    lines = [
        f"Segments of {LEAKY_SEGMENT_S:g} s, {first.n_segments} segments of {first.n_tracks} tracks, "
        f"{first.test_fraction:.0%} held out, {first.n_repeats} repeats (seeds {first.seeds[0]}..{first.seeds[-1]}).",
        "",
        "| estimator | LEAKY segment accuracy (segments split at random) | honest segment accuracy (tracks split) "
        "| honest track accuracy | inflation (points) | leaky test segments whose track is in train |",
        "|---|---|---|---|---:|---:|",
    ]
    for item in items:
        d = item.to_dict()
        lines.append(
            f"| {item.estimator} | {d['leaky_segment_accuracy_mean']:.3f} ± {d['leaky_segment_accuracy_sd']:.3f} | "
            f"{d['honest_segment_accuracy_mean']:.3f} ± {d['honest_segment_accuracy_sd']:.3f} | "
            f"{d['honest_track_accuracy_mean']:.3f} ± {d['honest_track_accuracy_sd']:.3f} | "
            f"{100 * item.inflation:+.1f} | {np.mean(item.leaky_test_share_seen):.0%} |"
        )
    return "\n".join(lines) + "\n"


def format_protocol(protocol: Mapping[str, Any]) -> str:
    """The protocol as a Markdown bullet list."""
    return "\n".join(f"- **{k}**: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in protocol.items()) + "\n"


def write_comparison(out_dir: str | os.PathLike[str], result: ComparisonResult) -> Path:
    """Write ``leaderboard.md``, ``leaderboard.csv`` and ``leaderboard.json`` (and the leakage table)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaderboard.md").write_text(format_comparison_markdown(result), encoding="utf-8")
    (out / "leaderboard.csv").write_text(format_leaderboard_csv(result.rows), encoding="utf-8")
    (out / "leaderboard.json").write_text(
        json.dumps(_json_safe(result.to_dict()), indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8"
    )
    return out


def format_comparison_markdown(result: ComparisonResult) -> str:
    """The whole comparison as Markdown: protocol, leaderboard, failures, leakage demo."""
    parts = ["# Model comparison", "", "## Protocol", "", format_protocol(result.protocol), "## Leaderboard", ""]
    parts.append(format_leaderboard_markdown(result.rows))
    parts.append(
        "\nAccuracy and macro-F1: mean ± sample sd over folds; pooled: all out-of-fold predictions together, "
        "with a percentile bootstrap interval over tracks. Training time: median over folds, and the first fold's, "
        "which also extracts features into a cold cache; inference: median wall-clock time per track, decoding included.\n"
    )
    if result.failures:
        parts += ["", "## Failures", ""] + [f"- {f}" for f in result.failures] + [""]
    if result.leakage:
        parts += ["", "## Leaky segment split vs honest split", "", format_leakage_markdown(result.leakage)]
    return "\n".join(parts)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value

