"""Calibration of the top-class confidence: expected calibration error and reliability curve.

The confidence of a track is its highest class probability; it is *correct* when that
class is the true one. Confidences are put in ``n_bins`` equal-width bins
``[0, 1/M], (1/M, 2/M], ..., ((M-1)/M, 1]`` (M = ``n_bins``, 15 by default, as in Guo et
al. 2017, "On Calibration of Modern Neural Networks"), and

    ECE = sum over bins b of (n_b / n) * |accuracy_b - mean confidence_b|

A perfectly calibrated model has ECE 0; 0.1 means its confidence is off by 10 points on
average.

Temperature scaling (same paper) is the calibration the models ship: :func:`fit_temperature`
divides the logits by the one temperature that minimises the NLL of held-out labels;
:func:`crossfit_temperatures` fits one per fold on the other folds, for honest figures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from genrekit.errors import InvalidParameterError
from genrekit.numeric import logsumexp

DEFAULT_N_BINS = 15


@dataclass(frozen=True)
class ReliabilityCurve:
    """Per-bin accuracy and confidence of the top class.

    Attributes
    ----------
    bin_edges : list of float [length n_bins + 1]
    counts : list of int [length n_bins]
    accuracy : list of float or None
        Share of correct tracks in each bin (``None`` for an empty bin).
    confidence : list of float or None
        Mean top-class probability in each bin (``None`` for an empty bin).
    """

    bin_edges: list[float]
    counts: list[int]
    accuracy: list[float | None]
    confidence: list[float | None]

    def to_dict(self) -> dict[str, list]:
        """JSON-ready dictionary."""
        return asdict(self)


def confidence_bins(confidence: np.ndarray, n_bins: int = DEFAULT_N_BINS) -> np.ndarray:
    """Bin index of each confidence: bin m holds ``(m/M, (m+1)/M]``, bin 0 also holds 0.

    Parameters
    ----------
    confidence : np.ndarray [shape=(n,)], values in [0, 1]
    n_bins : int >= 1

    Returns
    -------
    np.ndarray [shape=(n,), dtype=int64], values in [0, n_bins)
    """
    if int(n_bins) != n_bins or n_bins < 1:
        raise InvalidParameterError(f"n_bins must be an integer >= 1, got {n_bins}")
    bins = np.ceil(np.asarray(confidence, dtype=np.float64) * n_bins).astype(np.int64) - 1
    return np.clip(bins, 0, n_bins - 1)


def _top_class(proba: np.ndarray, y_true_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    proba = np.asarray(proba, dtype=np.float64)
    y_true_idx = np.asarray(y_true_idx, dtype=np.int64)
    if proba.ndim != 2 or y_true_idx.shape != (proba.shape[0],):
        raise InvalidParameterError(
            f"proba must be (n_tracks, n_labels) and y_true_idx (n_tracks,), got {proba.shape} and {y_true_idx.shape}"
        )
    pred = proba.argmax(axis=1)
    return proba[np.arange(proba.shape[0]), pred], (pred == y_true_idx).astype(np.float64)


def expected_calibration_error(proba: np.ndarray, y_true_idx: np.ndarray, *, n_bins: int = DEFAULT_N_BINS) -> float:
    """Expected calibration error of the top-class confidence (equal-width bins).

    Parameters
    ----------
    proba : np.ndarray [shape=(n_tracks, n_labels)]
        Class probabilities.
    y_true_idx : np.ndarray [shape=(n_tracks,), dtype=int]
        Index of each track's true label.
    n_bins : int >= 1

    Returns
    -------
    float in [0, 1] (NaN for zero tracks)
    """
    conf, correct = _top_class(proba, y_true_idx)
    if conf.size == 0:
        return float("nan")
    bins = confidence_bins(conf, n_bins)
    counts = np.bincount(bins, minlength=n_bins).astype(np.float64)
    gap = np.bincount(bins, weights=correct, minlength=n_bins) - np.bincount(bins, weights=conf, minlength=n_bins)
    return float(np.abs(gap).sum() / counts.sum())


def reliability_curve(proba: np.ndarray, y_true_idx: np.ndarray, *, n_bins: int = DEFAULT_N_BINS) -> ReliabilityCurve:
    """Per-bin accuracy, mean confidence and count (for the reliability diagram).

    Parameters
    ----------
    proba : np.ndarray [shape=(n_tracks, n_labels)]
    y_true_idx : np.ndarray [shape=(n_tracks,), dtype=int]
    n_bins : int >= 1

    Returns
    -------
    ReliabilityCurve
    """
    conf, correct = _top_class(proba, y_true_idx)
    bins = confidence_bins(conf, n_bins)
    counts = np.bincount(bins, minlength=n_bins)
    sum_correct = np.bincount(bins, weights=correct, minlength=n_bins)
    sum_conf = np.bincount(bins, weights=conf, minlength=n_bins)
    accuracy = [float(s / c) if c else None for s, c in zip(sum_correct, counts)]
    confidence = [float(s / c) if c else None for s, c in zip(sum_conf, counts)]
    return ReliabilityCurve(
        bin_edges=[float(e) for e in np.linspace(0.0, 1.0, n_bins + 1)],
        counts=[int(c) for c in counts],
        accuracy=accuracy,
        confidence=confidence,
    )


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Softmax temperature minimising the NLL of ``labels`` (temperature scaling, Guo et al. 2017).

    The NLL is convex in ``1 / temperature``; it is minimised over ``log(temperature)`` in
    ``[log 0.05, log 20]`` by a bounded scalar search (float64 NumPy).

    Parameters
    ----------
    logits : np.ndarray [shape=(n, k)]
        Logits (nats) of ``n`` windows or tracks.
    labels : np.ndarray [shape=(n,), dtype=int]
        Index of each one's true label.

    Returns
    -------
    float
        Temperature in [0.05, 20] (1 for no logits).
    """
    from scipy.optimize import minimize_scalar

    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    if z.size == 0:
        return 1.0
    picked = z[np.arange(len(y)), y]

    def nll(log_t: float) -> float:
        beta = math.exp(-log_t)
        return float(np.mean(logsumexp(beta * z) - beta * picked))

    result = minimize_scalar(nll, bounds=(math.log(0.05), math.log(20.0)), method="bounded", options={"xatol": 1e-4})
    value = math.exp(float(result.x))
    return value if math.isfinite(value) else 1.0


def crossfit_temperatures(fold_logits: Mapping[str, np.ndarray], fold_y: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Each fold's temperature, fitted on the other folds' held-out logits (its own where it is alone).

    Parameters
    ----------
    fold_logits : mapping of fold name to np.ndarray [shape=(n_fold, k)]
        Held-out logits (nats).
    fold_y : mapping of fold name to np.ndarray [shape=(n_fold,), dtype=int]
        True label indices.

    Returns
    -------
    dict of fold name to temperature in [0.05, 20]
    """
    out = {}
    for name in fold_logits:
        others = [n for n in fold_logits if n != name] or [name]
        out[name] = fit_temperature(np.concatenate([fold_logits[n] for n in others]),
                                    np.concatenate([fold_y[n] for n in others]))
    return out
