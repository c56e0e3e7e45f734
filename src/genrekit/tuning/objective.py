"""Grouped cross-validation of one training config: the objective of ``genrekit tune``.

This module is an edge: it trains through :func:`genrekit.training.trainers.train` (so a
tuned config means exactly what ``genrekit train --config`` does with it), writes each
fold's bundle into a work folder, and reads features through the feature cache.

Protocol
--------
The folds are the trainer's own k-fold split (:func:`genrekit.training.splits.make_splits`,
scheme ``"kfold"`` or ``"group_kfold"``): stratified by label, by track, and a known artist
or source group never sits on two sides. Fold ``k`` trains on the other folds, of which
``valid_fraction`` is the validation side (early stopping, calibration), and is scored on
fold ``k``, which the trainer never reads. The dataset's own test tracks, if it has any,
are left out entirely. The same ``seed`` gives the same folds for every trial, so trials
differ only in their settings.

Held-out tracks are scored from the feature cache where the family allows it (table
families: the cached window features; musicnn heads: the cached embeddings), else through
:class:`genrekit.predict.Classifier`. A track's probabilities are the mean of its windows'.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.errors import DatasetError, InvalidParameterError
from genrekit.models.families import HEAD, TABLE, get_family

METRICS = ("macro_f1", "accuracy")
FOLD_SCHEMES = ("kfold", "group_kfold")


@dataclass(frozen=True)
class CVSettings:
    """How one config is cross-validated.

    Attributes
    ----------
    n_folds : int >= 2
    scheme : {"kfold", "group_kfold"}
    seed : int
        Seeds the folds, each fold's validation carve-out and training.
    valid_fraction : float in [0, 1)
        Share of each fold's training tracks used for validation.
    metric : {"macro_f1", "accuracy"}
        Track-level score of a held-out fold.
    cache_dir : Path or None
        Feature cache (``None``: the default one).
    n_jobs : int >= 1
        Feature-extraction processes.
    device : {"auto", "cpu", "cuda"}
    """

    n_folds: int = 5
    scheme: str = "kfold"
    seed: int = 0
    valid_fraction: float = 0.2
    metric: str = "macro_f1"
    cache_dir: Path | None = None
    n_jobs: int = 1
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.n_folds < 2:
            raise InvalidParameterError(f"n_folds must be >= 2, got {self.n_folds}")
        if self.scheme not in FOLD_SCHEMES:
            raise InvalidParameterError(f"fold scheme must be one of {', '.join(FOLD_SCHEMES)}, got {self.scheme!r}")
        if self.metric not in METRICS:
            raise InvalidParameterError(f"metric must be one of {', '.join(METRICS)}, got {self.metric!r}")


@dataclass
class CVOutcome:
    """What one cross-validation measured.

    Attributes
    ----------
    fold_scores : list of float
        The metric of each held-out fold.
    track_ids, y_true : list of str
        Every scored track once (out-of-fold), with its label.
    proba : np.ndarray [shape=(n_tracks, len(labels))]
        Out-of-fold probabilities, columns in ``labels`` order.
    labels : list of str
    """

    fold_scores: list[float]
    track_ids: list[str]
    y_true: list[str]
    proba: np.ndarray
    labels: list[str]

    @property
    def mean(self) -> float:
        """Mean of the fold scores."""
        return float(np.mean(self.fold_scores))

    def to_dict(self, *, decimals: int = 5) -> dict[str, Any]:
        """JSON-ready (probabilities rounded)."""
        return {
            "fold_scores": [float(s) for s in self.fold_scores],
            "track_ids": list(self.track_ids),
            "y_true": list(self.y_true),
            "proba": np.round(self.proba, decimals).tolist(),
            "labels": list(self.labels),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CVOutcome":
        """Inverse of :meth:`to_dict`."""
        return cls(
            fold_scores=list(data["fold_scores"]),
            track_ids=list(data["track_ids"]),
            y_true=list(data["y_true"]),
            proba=np.asarray(data["proba"], dtype=np.float64).reshape(len(data["track_ids"]), len(data["labels"])),
            labels=list(data["labels"]),
        )


def fold_score(y_true: Sequence[str], proba: np.ndarray, labels: Sequence[str], metric: str) -> float:
    """Track-level ``metric`` of one fold's probabilities (no bootstrap)."""
    from genrekit.evaluation.metrics import evaluate_predictions

    result = evaluate_predictions(list(y_true), proba, list(labels), n_bootstrap=0)
    return float(result.macro_f1.value if metric == "macro_f1" else result.accuracy.value)


def prepare_data(data: str | Path, work_dir: Path) -> tuple[str | Path, list[Any]]:
    """The data spec each fold trains on, and its records (the dataset's test tracks left out).

    A dataset with its own test split is rewritten as a manifest without those tracks.
    """
    from genrekit.training.folds import write_manifest
    from genrekit.training import data as tdata

    loaded = tdata.load_training_data(data, scheme="kfold")
    pool = [r for r in loaded.records if r.split != "test"]
    if len(pool) == len(loaded.records) or loaded.table is not None:
        return data, pool
    return write_manifest(work_dir / "manifest.csv", {"train": pool}), pool


def cross_validate(
    family: str,
    file_data: Mapping[str, Any],
    data: str | Path,
    settings: CVSettings,
    *,
    work_dir: str | Path | None = None,
    on_fold: Callable[[int, float, float], None] | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> CVOutcome:
    """Train ``family`` with the settings ``file_data`` on each fold and score the held-out tracks.

    Parameters
    ----------
    family : str
    file_data : mapping
        A training config as a config file holds it (``[search]``/``[tuned]`` ignored).
    data : path
        Dataset folder, manifest or feature table.
    settings : CVSettings
    work_dir : path or None
        Where fold bundles go (removed afterwards); ``None``: a temporary folder.
    on_fold : callable or None
        ``on_fold(fold, fold_score, mean_so_far)`` after each fold (a pruner's hook: an
        exception it raises stops the run).
    on_epoch : callable or None
        ``on_epoch(fold, history_entry)`` after each epoch of a torch family.
    log : callable or None
        Progress lines.

    Returns
    -------
    CVOutcome

    Raises
    ------
    InvalidParameterError, DatasetError
        Bad settings or data; a fold that scores no track.
    """
    from genrekit.workbench.compare import align_columns
    from genrekit.models.loaders import load_model
    from genrekit.predict import Classifier
    from genrekit.training import data as tdata
    from genrekit.training.config import resolve_config
    from genrekit.training.trainers import train

    log = log or (lambda message: None)
    root = Path(tempfile.mkdtemp(prefix="genrekit-tune-", dir=work_dir))
    try:
        spec, pool = prepare_data(data, root)
        loaded = tdata.load_training_data(spec, scheme="kfold")
        labels = sorted({r.label for r in pool})
        fold_scores: list[float] = []
        track_ids: list[str] = []
        y_true: list[str] = []
        probas: list[np.ndarray] = []
        for fold in range(settings.n_folds):
            config = resolve_config(
                family,
                file_data=file_data,
                options={
                    "seed": settings.seed,
                    "device": settings.device,
                    "n_jobs": settings.n_jobs,
                    "split": {
                        "scheme": settings.scheme,
                        "fold": fold,
                        "n_folds": settings.n_folds,
                        "valid_fraction": settings.valid_fraction,
                    },
                    "name": f"tune-{family}-fold{fold}",
                },
            )
            _, splits = tdata.split_records(loaded.records, config)
            bundle_dir = root / f"fold{fold}"
            epoch_hook = (lambda entry, fold=fold: on_epoch(fold, entry)) if on_epoch is not None else None
            train(config, spec, out_dir=bundle_dir, cache_dir=settings.cache_dir, progress=False, on_epoch=epoch_hook)
            card, model = load_model(bundle_dir)
            classifier = Classifier(model, card)  # PyTorch: no ONNX export per fold
            scored, proba = score_held_out(classifier, splits["test"], loaded, config, settings)
            if not scored:
                raise DatasetError(f"fold {fold}: no held-out track could be scored")
            proba = align_columns(proba, classifier.labels, labels)
            score = fold_score([r.label for r in scored], proba, labels, settings.metric)
            fold_scores.append(score)
            track_ids += [r.track_id for r in scored]
            y_true += [r.label for r in scored]
            probas.append(proba)
            shutil.rmtree(bundle_dir, ignore_errors=True)
            log(f"fold {fold + 1}/{settings.n_folds}: {settings.metric} {score:.3f} ({len(scored)} tracks)")
            if on_fold is not None:
                on_fold(fold, score, float(np.mean(fold_scores)))
        return CVOutcome(fold_scores, track_ids, y_true, np.concatenate(probas), labels)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def score_held_out(
    classifier: Any, records: Sequence[Any], loaded: Any, config: Any, settings: CVSettings
) -> tuple[list[Any], np.ndarray]:
    """Track-level probabilities (columns: the classifier's labels) of the held-out records.

    Feature tables: the table's row of each track; else read from the cache the family's
    trainer filled where there is one (:data:`CACHE_SCORERS`: table families, the cached
    window features; musicnn heads, the cached embeddings); other families: the Classifier.
    """
    from genrekit.evaluation.inference import predict_tracks

    if loaded.table is not None:
        kept = [r for r in records if r.track_id in loaded.table]
        if not kept:
            return [], np.zeros((0, len(classifier.labels)))
        rows = np.stack([loaded.table[r.track_id] for r in kept]).astype(np.float64)
        return kept, np.asarray(_table_estimator(classifier).predict_proba(rows), dtype=np.float64)
    from_cache = CACHE_SCORERS.get(get_family(config.family).trainer)
    if from_cache is not None:
        return from_cache(classifier, records, config, settings)
    scores = predict_tracks(classifier, records)
    return scores.records, scores.proba


def score_table_rows_from_cache(
    classifier: Any, records: Sequence[Any], config: Any, settings: CVSettings
) -> tuple[list[Any], np.ndarray]:
    """Track probabilities of a table model from the cached window features the trainer fills."""
    from genrekit.workbench.compare import CompareSettings, score_table_from_cache

    scores = score_table_from_cache(classifier, records, CompareSettings(cache_dir=settings.cache_dir, n_jobs=settings.n_jobs))
    return scores.records, scores.proba


def _table_estimator(classifier: Any) -> Any:
    estimator = getattr(classifier.model, "estimator", None)
    if estimator is None:
        raise InvalidParameterError(f"a {classifier.card.model_type} bundle has no table estimator to score rows with")
    return estimator


def score_head_from_cache(
    classifier: Any, records: Sequence[Any], config: Any, settings: CVSettings
) -> tuple[list[Any], np.ndarray]:
    """Track probabilities of a musicnn head from the cached embeddings the trainer fills.

    The cache keys are the trainer's (:func:`genrekit.training.trainers.train`): decoded
    16 kHz excerpts of ``max_track_s``, embeddings of windows every ``valid_hop_s`` (or
    one window length).
    """
    import torch

    from genrekit.datasets import FeatureCache
    from genrekit.models.heads import WINDOW_S
    from genrekit.models.musicnn import SAMPLE_RATE
    from genrekit.training import data as tdata

    model = classifier.model
    head_config = model.config
    cache = FeatureCache(settings.cache_dir)
    arrays, _ = tdata.cached_arrays(
        list(records),
        tdata.decode_excerpt,
        {"sr": SAMPLE_RATE, "max_track_s": config.max_track_s},
        cache=cache,
        feature=tdata.DECODE_FEATURE_NAME,
        n_jobs=settings.n_jobs,
        progress=False,
    )
    kept = [r for r, a in zip(records, arrays) if a is not None]
    tracks = [tdata.pcm16_to_float(a) for a in arrays if a is not None]
    if not kept:
        return [], np.zeros((0, len(classifier.labels)))
    params = {
        "max_track_s": config.max_track_s,
        "backbones": list(head_config.backbones),
        "embeddings": list(head_config.embeddings),
        "pad_mode": head_config.pad_mode,
    }
    rows = tdata.cached_embeddings(kept, tracks, cache=cache, params=params, hop_s=config.valid_hop_s or WINDOW_S)
    with torch.inference_mode():
        proba = np.stack([model.head.predict_proba(torch.from_numpy(r)).numpy().mean(axis=0) for r in rows])
    return kept, proba.astype(np.float64)


# Held-out scoring from the feature cache, by the trainer (genrekit.models.families) that filled it.
CACHE_SCORERS: dict[str, Callable[[Any, Sequence[Any], Any, CVSettings], tuple[list[Any], np.ndarray]]] = {
    TABLE: score_table_rows_from_cache,
    HEAD: score_head_from_cache,
}
