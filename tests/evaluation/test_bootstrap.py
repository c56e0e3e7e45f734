"""Bootstrap intervals: contain the estimate, shrink with more tracks, are seeded."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genrekit.errors import InvalidParameterError
from genrekit.evaluation import bootstrap_ci, bootstrap_indices, evaluate_predictions, percentile_interval


def _dataset(n_repeat: int):
    rng = np.random.default_rng(0)
    labels = ["a", "b", "c", "d"]
    y = rng.integers(0, 4, 50)
    logits = rng.normal(size=(50, 4))
    logits[np.arange(50), y] += 1.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return [labels[i] for i in np.tile(y, n_repeat)], np.tile(proba, (n_repeat, 1)), labels


def test_intervals_contain_the_point_estimate():
    y, proba, labels = _dataset(1)
    r = evaluate_predictions(y, proba, labels, n_bootstrap=500, seed=1)
    for name, metric in r.headline().items():
        assert metric.low <= metric.value <= metric.high, name
        assert metric.low < metric.high, name
    for c in r.per_class:
        assert c.f1_low <= c.f1 <= c.f1_high


def test_intervals_shrink_with_more_tracks():
    small = evaluate_predictions(*_dataset(1), n_bootstrap=500, seed=1)
    large = evaluate_predictions(*_dataset(8), n_bootstrap=500, seed=1)
    for name in ("accuracy", "macro_f1", "roc_auc_macro", "ece"):
        width_small = small.headline()[name].high - small.headline()[name].low
        width_large = large.headline()[name].high - large.headline()[name].low
        assert width_large < 0.6 * width_small, name
    assert large.accuracy.value == pytest.approx(small.accuracy.value)


def test_same_seed_same_interval_other_seed_differs():
    y, proba, labels = _dataset(1)
    first = evaluate_predictions(y, proba, labels, n_bootstrap=200, seed=3)
    again = evaluate_predictions(y, proba, labels, n_bootstrap=200, seed=3)
    other = evaluate_predictions(y, proba, labels, n_bootstrap=200, seed=4)
    assert first.to_dict() == again.to_dict()
    assert (first.macro_f1.low, first.macro_f1.high) != (other.macro_f1.low, other.macro_f1.high)


def test_percentile_interval_of_known_values_and_nan_handling():
    low, high = percentile_interval(np.arange(101, dtype=float), 0.9)
    assert (low, high) == pytest.approx((5.0, 95.0))
    assert percentile_interval(np.array([np.nan, 1.0, 3.0]), 0.5) == pytest.approx((1.5, 2.5))
    assert all(math.isnan(v) for v in percentile_interval(np.array([np.nan]), 0.95))
    with pytest.raises(InvalidParameterError):
        percentile_interval(np.arange(3.0), 1.5)


def test_bootstrap_ci_of_a_mean_and_indices_shape():
    values = np.random.default_rng(2).normal(loc=3.0, size=400)
    low, high = bootstrap_ci(lambda idx: float(values[idx].mean()), values.size, n_bootstrap=400, seed=0)
    assert low < values.mean() < high
    assert high - low == pytest.approx(2 * 1.96 * values.std() / math.sqrt(values.size), rel=0.25)
    idx = bootstrap_indices(7, n_bootstrap=3, seed=0)
    assert idx.shape == (3, 7) and idx.min() >= 0 and idx.max() < 7
    with pytest.raises(InvalidParameterError):
        bootstrap_indices(0, n_bootstrap=3, seed=0)
