"""Track-level classification metrics with bootstrap confidence intervals.

Inputs are the true labels of the tracks and the model's track-level probability matrix
whose columns follow ``labels`` (the model card's label order). Everything here is pure:
arrays in, numbers out.

Conventions
-----------
* The prediction of a track is the arg-max of its probability row (first label on ties).
* Macro-F1 averages the per-class F1 over the labels that occur in ``y_true`` or in the
  predictions (scikit-learn's default label set); a model label that is neither true nor
  predicted for any track is left out, one that is predicted but never true counts with F1 0.
  Undefined precision or recall counts as 0 (``zero_division=0``).
* ROC-AUC is one-vs-rest per class, macro-averaged over the classes present in ``y_true``;
  classes absent from ``y_true`` are skipped (their AUC is undefined), and the skipped
  ones are listed in the result. With fewer than two classes present it is NaN.
* Expected calibration error: see :mod:`genrekit.evaluation.calibration`.
* Every headline metric and each class's F1 carries a percentile bootstrap interval: the
  tracks are resampled with replacement ``n_bootstrap`` times (seeded) and the metric is
  recomputed on each resample; resamples where it is undefined are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix as _sk_confusion_matrix
from sklearn.metrics import precision_recall_fscore_support

from genrekit.errors import InvalidParameterError
from genrekit.evaluation.bootstrap import bootstrap_ci, bootstrap_indices, percentile_interval
from genrekit.evaluation.calibration import (
    DEFAULT_N_BINS,
    ReliabilityCurve,
    confidence_bins,
    expected_calibration_error,
    reliability_curve,
)

DEFAULT_N_BOOTSTRAP = 1000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class MetricCI:
    """A metric's value on the full set and its bootstrap confidence interval."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready dictionary; NaN becomes ``None``."""
        return {k: _finite_or_none(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall and F1 of one class (one-vs-rest), with the F1 interval."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int
    n_predicted: int
    f1_low: float
    f1_high: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary; NaN becomes ``None``."""
        return {k: _finite_or_none(v) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class EvaluationResult:
    """Every track-level metric of one evaluation.

    Attributes
    ----------
    labels : list of str
        The model's labels; ``confusion`` rows (true) and columns (predicted) follow them.
    n_tracks : int
    accuracy, macro_f1, roc_auc_macro, ece : MetricCI
    per_class : list of ClassMetrics
        One entry per label, in ``labels`` order.
    confusion : list of list of int [shape=(n_labels, n_labels)]
    macro_f1_labels : list of str
        Labels averaged in macro-F1.
    roc_auc_labels : list of str
        Labels averaged in ROC-AUC (those present in ``y_true``).
    reliability : ReliabilityCurve
    n_bootstrap : int
    confidence : float
        Coverage of the intervals, e.g. 0.95.
    seed : int
    """

    labels: list[str]
    n_tracks: int
    accuracy: MetricCI
    macro_f1: MetricCI
    roc_auc_macro: MetricCI
    ece: MetricCI
    per_class: list[ClassMetrics]
    confusion: list[list[int]]
    macro_f1_labels: list[str]
    roc_auc_labels: list[str]
    reliability: ReliabilityCurve
    n_bootstrap: int
    confidence: float
    seed: int
    notes: list[str] = field(default_factory=list)

    def headline(self) -> dict[str, MetricCI]:
        """The four headline metrics by name."""
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "roc_auc_macro": self.roc_auc_macro,
            "ece": self.ece,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN becomes ``None``)."""
        return {
            "labels": list(self.labels),
            "n_tracks": self.n_tracks,
            **{name: m.to_dict() for name, m in self.headline().items()},
            "per_class": [c.to_dict() for c in self.per_class],
            "confusion": [list(map(int, row)) for row in self.confusion],
            "macro_f1_labels": list(self.macro_f1_labels),
            "roc_auc_labels": list(self.roc_auc_labels),
            "reliability": self.reliability.to_dict(),
            "bootstrap": {"n_bootstrap": self.n_bootstrap, "confidence": self.confidence, "seed": self.seed},
            "notes": list(self.notes),
        }


def encode_labels(y_true: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Indices of ``y_true`` in ``labels``.

    Returns
    -------
    np.ndarray [shape=(n_tracks,), dtype=int64]

    Raises
    ------
    InvalidParameterError
        A true label is not one of ``labels``.
    """
    index = {lab: i for i, lab in enumerate(labels)}
    unknown = sorted({str(y) for y in y_true if y not in index})
    if unknown:
        raise InvalidParameterError(
            f"true labels not known to the model: {', '.join(unknown)} (model labels: {', '.join(labels)})"
        )
    return np.array([index[y] for y in y_true], dtype=np.int64)


def confusion_counts(y_true_idx: np.ndarray, y_pred_idx: np.ndarray, n_labels: int) -> np.ndarray:
    """Confusion matrix, rows true and columns predicted.

    Returns
    -------
    np.ndarray [shape=(n_labels, n_labels), dtype=int64]
    """
    flat = np.asarray(y_true_idx, dtype=np.int64) * n_labels + np.asarray(y_pred_idx, dtype=np.int64)
    return np.bincount(flat, minlength=n_labels * n_labels).reshape(n_labels, n_labels)


def f1_per_class_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Per-class F1 from a confusion matrix (0 where undefined).

    Parameters
    ----------
    confusion : np.ndarray [shape=(..., n_labels, n_labels)]

    Returns
    -------
    np.ndarray [shape=(..., n_labels), dtype=float64]
    """
    tp = np.diagonal(confusion, axis1=-2, axis2=-1).astype(np.float64)
    support = confusion.sum(axis=-1)
    predicted = confusion.sum(axis=-2)
    denom = support + predicted
    return np.divide(2.0 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def macro_f1_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Macro-F1 over the labels that are true or predicted at least once.

    Parameters
    ----------
    confusion : np.ndarray [shape=(..., n_labels, n_labels)]

    Returns
    -------
    np.ndarray [shape=(...)] (NaN for an empty matrix)
    """
    f1 = f1_per_class_from_confusion(confusion)
    active = (confusion.sum(axis=-1) + confusion.sum(axis=-2)) > 0
    n_active = active.sum(axis=-1)
    total = np.where(active, f1, 0.0).sum(axis=-1)
    return np.divide(total, n_active, out=np.full(total.shape, np.nan), where=n_active > 0)


def binary_roc_auc(is_positive: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks for ties).

    Parameters
    ----------
    is_positive : np.ndarray [shape=(n,), dtype=bool]
    score : np.ndarray [shape=(n,)]

    Returns
    -------
    float
        NaN if only one class is present.
    """
    from scipy.stats import rankdata

    is_positive = np.asarray(is_positive, dtype=bool)
    n_pos = int(is_positive.sum())
    n_neg = is_positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(score)
    return float((ranks[is_positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def auroc(negative: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of scores where ``positive`` should rank above ``negative``.

    Parameters
    ----------
    negative, positive : np.ndarray [shape=(n,)]
        Scores of the two groups (any units, higher means "more positive").

    Returns
    -------
    float
        NaN if either group is empty.
    """
    negative, positive = np.asarray(negative), np.asarray(positive)
    is_positive = np.r_[np.zeros(len(negative), bool), np.ones(len(positive), bool)]
    return binary_roc_auc(is_positive, np.concatenate([negative, positive]))


def macro_recall(y: np.ndarray, pred: np.ndarray) -> float:
    """Recall averaged over the classes present in ``y`` (balanced accuracy); NaN if ``y`` is empty.

    Parameters
    ----------
    y, pred : np.ndarray [shape=(n,), dtype=int]
        True and predicted class indices.
    """
    y, pred = np.asarray(y), np.asarray(pred)
    classes = np.unique(y)
    return float(np.mean([np.mean(pred[y == k] == k) for k in classes])) if classes.size else math.nan


def rate_with_ci(hits: np.ndarray, mask: np.ndarray, *, seed: int,
                 n_bootstrap: int = DEFAULT_N_BOOTSTRAP) -> dict[str, Any]:
    """Share of ``hits`` among the items in ``mask``, with its 95 % percentile bootstrap interval.

    Returns
    -------
    dict
        ``{"rate": float, "ci95": [low, high], "n": int}`` rounded to 4 decimals;
        ``rate`` and ``ci95`` are ``None`` when ``mask`` selects nothing.
    """
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return {"rate": None, "ci95": None, "n": 0}
    chosen = np.asarray(hits)[idx]
    value = float(chosen.mean())
    low, high = bootstrap_ci(lambda i: float(chosen[i].mean()), idx.size, n_bootstrap=n_bootstrap, seed=seed)
    return {"rate": round(value, 4), "ci95": [round(low, 4), round(high, 4)], "n": int(idx.size)}


def track_figures(proba: np.ndarray, y: np.ndarray, labels: Sequence[str], *, seed: int,
                  n_bootstrap: int = DEFAULT_N_BOOTSTRAP) -> dict[str, Any]:
    """Accuracy, macro-recall (over the classes present), ECE and NLL, with 95 % bootstrap intervals.

    Parameters
    ----------
    proba : np.ndarray [shape=(n_tracks, n_labels)]
        Track-level probabilities.
    y : np.ndarray [shape=(n_tracks,), dtype=int]
        True class indices into ``labels``.
    labels : sequence of str
        Class names, used as keys of ``per_label_recall``.

    Returns
    -------
    dict
        ``n_tracks``, ``accuracy``/``macro_recall``/``ece`` as ``{"value", "ci95"}``, ``nll`` (nats)
        and ``per_label_recall``, rounded for a model card.
    """
    pred = proba.argmax(1)
    stats: dict[str, Callable[[np.ndarray], float]] = {
        "accuracy": lambda i: float(np.mean(pred[i] == y[i])),
        "macro_recall": lambda i: macro_recall(y[i], pred[i]),
        "ece": lambda i: expected_calibration_error(proba[i], y[i]),
    }
    out: dict[str, Any] = {"n_tracks": int(len(y))}
    everything = np.arange(len(y))
    for name, fn in stats.items():
        low, high = bootstrap_ci(fn, len(y), n_bootstrap=n_bootstrap, seed=seed)
        out[name] = {"value": round(fn(everything), 4), "ci95": [round(low, 4), round(high, 4)]}
    out["nll"] = round(float(-np.mean(np.log(np.maximum(proba[everything, y], 1e-12)))), 4)
    out["per_label_recall"] = {labels[k]: round(float(np.mean(pred[y == k] == k)), 3) for k in np.unique(y)}
    return out


def roc_auc_ovr_macro(y_true_idx: np.ndarray, proba: np.ndarray) -> tuple[float, list[int]]:
    """One-vs-rest ROC-AUC, macro-averaged over the classes present in ``y_true``.

    Parameters
    ----------
    y_true_idx : np.ndarray [shape=(n_tracks,), dtype=int]
    proba : np.ndarray [shape=(n_tracks, n_labels)]

    Returns
    -------
    (float, list of int)
        The macro AUC (NaN with fewer than two classes present) and the classes averaged.
    """
    y_true_idx = np.asarray(y_true_idx)
    present = sorted(int(c) for c in np.unique(y_true_idx))
    if len(present) < 2:
        return math.nan, present
    aucs = [binary_roc_auc(y_true_idx == c, proba[:, c]) for c in present]
    return float(np.mean(aucs)), present


def predict_indices(proba: np.ndarray) -> np.ndarray:
    """Arg-max of each probability row (first label on ties).

    Returns
    -------
    np.ndarray [shape=(n_tracks,), dtype=int64]
    """
    return np.asarray(proba).argmax(axis=1).astype(np.int64)


def evaluate_predictions(
    y_true: Sequence[str],
    proba: np.ndarray,
    labels: Sequence[str],
    *,
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    n_bins: int = DEFAULT_N_BINS,
) -> EvaluationResult:
    """Every track-level metric, each with a percentile bootstrap interval.

    Parameters
    ----------
    y_true : sequence of str [length n_tracks]
        True label of each track; each must be one of ``labels``.
    proba : np.ndarray [shape=(n_tracks, n_labels)]
        Track-level class probabilities, columns in ``labels`` order, rows summing to 1.
    labels : sequence of str
        The model's labels.
    n_bootstrap : int >= 0
        Number of resamples (0: intervals are NaN).
    seed : int
        Seed of the resampling.
    confidence : float in (0, 1)
        Coverage of the intervals.
    n_bins : int >= 1
        Confidence bins of the ECE and the reliability curve.

    Returns
    -------
    EvaluationResult

    Raises
    ------
    InvalidParameterError
        Empty input, mismatched shapes, unknown labels, bad probabilities or parameters.
    """
    labels = [str(lab) for lab in labels]
    proba = np.asarray(proba, dtype=np.float64)
    n_labels = len(labels)
    if len(set(labels)) != n_labels or n_labels < 2:
        raise InvalidParameterError("labels must be at least two distinct names")
    if proba.ndim != 2 or proba.shape != (len(y_true), n_labels):
        raise InvalidParameterError(
            f"proba must have shape (n_tracks, n_labels) = ({len(y_true)}, {n_labels}), got {proba.shape}"
        )
    if proba.shape[0] == 0:
        raise InvalidParameterError("cannot evaluate zero tracks")
    if not np.all(np.isfinite(proba)) or proba.min() < 0 or proba.max() > 1 + 1e-6:
        raise InvalidParameterError("proba must hold finite probabilities in [0, 1]")
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 0:
        raise InvalidParameterError(f"n_bootstrap must be an integer >= 0, got {n_bootstrap}")
    if not 0.0 < confidence < 1.0:
        raise InvalidParameterError(f"confidence must be in (0, 1), got {confidence}")

    y_idx = encode_labels(y_true, labels)
    pred_idx = predict_indices(proba)
    n_tracks = y_idx.size
    label_ids = list(range(n_labels))

    confusion = _sk_confusion_matrix(y_idx, pred_idx, labels=label_ids)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_idx, pred_idx, labels=label_ids, zero_division=0
    )
    active = (confusion.sum(axis=0) + confusion.sum(axis=1)) > 0
    acc = float(np.mean(y_idx == pred_idx))
    mf1 = float(np.mean(f1[active]))
    auc, auc_classes = roc_auc_ovr_macro(y_idx, proba)
    ece = expected_calibration_error(proba, y_idx, n_bins=n_bins)

    intervals = _bootstrap_intervals(
        y_idx, pred_idx, proba, n_bootstrap=n_bootstrap, seed=seed, confidence=confidence, n_bins=n_bins
    )
    per_class = [
        ClassMetrics(
            label=labels[c],
            precision=float(precision[c]),
            recall=float(recall[c]),
            f1=float(f1[c]),
            support=int(support[c]),
            n_predicted=int(confusion[:, c].sum()),
            f1_low=float(intervals["class_f1"][0][c]),
            f1_high=float(intervals["class_f1"][1][c]),
        )
        for c in label_ids
    ]
    notes = []
    absent = [labels[c] for c in label_ids if c not in auc_classes]
    if absent:
        notes.append(f"ROC-AUC skips labels absent from the true labels: {', '.join(absent)}")
    return EvaluationResult(
        labels=labels,
        n_tracks=int(n_tracks),
        accuracy=MetricCI(acc, *intervals["accuracy"]),
        macro_f1=MetricCI(mf1, *intervals["macro_f1"]),
        roc_auc_macro=MetricCI(auc, *intervals["roc_auc_macro"]),
        ece=MetricCI(ece, *intervals["ece"]),
        per_class=per_class,
        confusion=confusion.astype(int).tolist(),
        macro_f1_labels=[labels[c] for c in label_ids if active[c]],
        roc_auc_labels=[labels[c] for c in auc_classes],
        reliability=reliability_curve(proba, y_idx, n_bins=n_bins),
        n_bootstrap=int(n_bootstrap),
        confidence=float(confidence),
        seed=int(seed),
        notes=notes,
    )


def _bootstrap_intervals(
    y_idx: np.ndarray,
    pred_idx: np.ndarray,
    proba: np.ndarray,
    *,
    n_bootstrap: int,
    seed: int,
    confidence: float,
    n_bins: int,
) -> dict[str, Any]:
    n_labels = proba.shape[1]
    nan_pair = (math.nan, math.nan)
    if n_bootstrap == 0:
        nan_class = np.full(n_labels, math.nan)
        return {
            "accuracy": nan_pair,
            "macro_f1": nan_pair,
            "roc_auc_macro": nan_pair,
            "ece": nan_pair,
            "class_f1": (nan_class, nan_class),
        }
    idx = bootstrap_indices(y_idx.size, n_bootstrap=n_bootstrap, seed=seed)
    true_b = y_idx[idx]
    pred_b = pred_idx[idx]
    correct_b = true_b == pred_b
    acc = correct_b.mean(axis=1)
    flat = true_b * n_labels + pred_b + (np.arange(n_bootstrap)[:, None] * n_labels * n_labels)
    conf_b = np.bincount(flat.ravel(), minlength=n_bootstrap * n_labels * n_labels).reshape(
        n_bootstrap, n_labels, n_labels
    )
    mf1 = macro_f1_from_confusion(conf_b)
    class_f1 = f1_per_class_from_confusion(conf_b).astype(np.float64)
    class_active = (conf_b.sum(axis=-1) + conf_b.sum(axis=-2)) > 0
    class_f1[~class_active] = np.nan
    aucs = _bootstrap_auc(proba, true_b, idx)
    eces = _bootstrap_ece(proba, y_idx, idx, n_bins=n_bins)
    class_low = np.empty(n_labels)
    class_high = np.empty(n_labels)
    for c in range(n_labels):
        class_low[c], class_high[c] = percentile_interval(class_f1[:, c], confidence)
    return {
        "accuracy": percentile_interval(acc, confidence),
        "macro_f1": percentile_interval(mf1, confidence),
        "roc_auc_macro": percentile_interval(aucs, confidence),
        "ece": percentile_interval(eces, confidence),
        "class_f1": (class_low, class_high),
    }


def _bootstrap_auc(proba: np.ndarray, true_b: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Macro one-vs-rest AUC of every resample at once (as :func:`roc_auc_ovr_macro`)."""
    from scipy.stats import rankdata

    n_boot, n_items = idx.shape
    per_class = np.full((n_boot, proba.shape[1]), np.nan)
    for c in range(proba.shape[1]):
        positive = true_b == c
        n_pos = positive.sum(axis=1).astype(np.float64)
        n_neg = n_items - n_pos
        defined = (n_pos > 0) & (n_neg > 0)
        if not defined.any():
            continue
        ranks = rankdata(proba[idx, c], axis=1)
        u = (ranks * positive).sum(axis=1) - n_pos * (n_pos + 1) / 2.0
        per_class[defined, c] = u[defined] / (n_pos[defined] * n_neg[defined])
    n_defined = np.isfinite(per_class).sum(axis=1)
    total = np.nansum(per_class, axis=1)
    return np.divide(total, n_defined, out=np.full(n_boot, np.nan), where=n_defined >= 2)


def _bootstrap_ece(proba: np.ndarray, y_idx: np.ndarray, idx: np.ndarray, *, n_bins: int) -> np.ndarray:
    """ECE of every resample at once (same binning as :func:`expected_calibration_error`)."""
    top = proba.argmax(axis=1)
    conf = proba[np.arange(proba.shape[0]), top]
    correct = (top == y_idx).astype(np.float64)
    n_boot, n_items = idx.shape
    flat = (confidence_bins(conf, n_bins)[idx] + np.arange(n_boot)[:, None] * n_bins).ravel()
    size = n_boot * n_bins
    gap = np.bincount(flat, weights=correct[idx].ravel(), minlength=size) - np.bincount(
        flat, weights=conf[idx].ravel(), minlength=size
    )
    return np.abs(gap.reshape(n_boot, n_bins)).sum(axis=1) / n_items


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
