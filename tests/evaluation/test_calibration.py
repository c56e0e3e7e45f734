"""Expected calibration error and reliability curve on constructed examples."""

from __future__ import annotations

import numpy as np
import pytest

from genrekit.errors import InvalidParameterError
from genrekit.evaluation.calibration import (
    confidence_bins,
    crossfit_temperatures,
    expected_calibration_error,
    fit_temperature,
    reliability_curve,
)


def test_ece_exact_on_constructed_example():
    # 10 tracks at confidence 0.9 (bin 13 of 15) with 6 right; 10 at 0.5 (bin 7) with 5 right.
    proba = np.array([[0.9, 0.1]] * 10 + [[0.5 + 1e-9, 0.5 - 1e-9]] * 10)
    y = np.array([0] * 6 + [1] * 4 + [0] * 5 + [1] * 5)
    assert expected_calibration_error(proba, y) == pytest.approx(0.5 * 0.3 + 0.5 * 0.0)


def test_ece_is_zero_when_confidence_equals_accuracy_in_every_bin():
    proba = np.array([[0.75, 0.25]] * 4 + [[0.2, 0.8]] * 5)
    y = np.array([0, 0, 0, 1] + [1, 1, 1, 1, 0])
    assert expected_calibration_error(proba, y) == pytest.approx(0.0)


def test_ece_of_confident_wrong_model_is_its_confidence():
    proba = np.array([[0.99, 0.01], [0.01, 0.99]])
    assert expected_calibration_error(proba, np.array([1, 0])) == pytest.approx(0.99)


def test_bins_are_right_closed_equal_width():
    assert confidence_bins(np.array([0.0, 0.01, 1 / 15 + 1e-9, 0.5, 0.999, 1.0])).tolist() == [0, 0, 1, 7, 14, 14]
    assert confidence_bins(np.array([0.25, 0.5, 0.75, 1.0]), n_bins=4).tolist() == [0, 1, 2, 3]
    with pytest.raises(InvalidParameterError):
        confidence_bins(np.array([0.5]), n_bins=0)


def test_reliability_curve_counts_and_means():
    proba = np.array([[0.9, 0.1], [0.95, 0.05], [0.3, 0.7]])
    curve = reliability_curve(proba, np.array([0, 1, 1]), n_bins=10)
    assert curve.counts == [0] * 6 + [1, 0, 1, 1]
    assert curve.accuracy[6] == 1.0 and curve.accuracy[8] == 1.0 and curve.accuracy[9] == 0.0
    assert curve.confidence[9] == pytest.approx(0.95)
    assert curve.accuracy[0] is None
    assert len(curve.bin_edges) == 11


def test_fit_temperature_recovers_the_generating_temperature():
    rng = np.random.default_rng(0)
    logits = 3.0 * rng.standard_normal((4000, 4))
    proba = np.exp(logits / 2.5) / np.exp(logits / 2.5).sum(1, keepdims=True)
    labels = np.array([rng.choice(4, p=p) for p in proba])
    assert fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.1)
    assert fit_temperature(np.zeros((0, 4)), np.zeros(0, dtype=int)) == 1.0


def test_crossfit_temperatures_fit_each_fold_on_the_others():
    rng = np.random.default_rng(1)
    logits = {name: 3.0 * rng.standard_normal((50, 3)) for name in ("a", "b", "c")}
    labels = {name: rng.integers(0, 3, 50) for name in logits}
    out = crossfit_temperatures(logits, labels)
    others = fit_temperature(np.concatenate([logits["b"], logits["c"]]), np.concatenate([labels["b"], labels["c"]]))
    assert out["a"] == others
    alone = crossfit_temperatures({"a": logits["a"]}, {"a": labels["a"]})
    assert alone["a"] == fit_temperature(logits["a"], labels["a"])
