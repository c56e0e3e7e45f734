"""Track-level metrics against hand-computed values and scikit-learn."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from genrekit.errors import InvalidParameterError
from genrekit.evaluation import evaluate_predictions
from genrekit.evaluation.metrics import binary_roc_auc, confusion_counts, macro_f1_from_confusion

LABELS = ["a", "b", "c"]
# true a, a, a, b, b, c; predicted a, a, b, b, c, c (arg-max of each row)
Y_TRUE = ["a", "a", "a", "b", "b", "c"]
PROBA = np.array(
    [
        [0.85, 0.10, 0.05],
        [0.62, 0.30, 0.08],
        [0.30, 0.62, 0.08],
        [0.20, 0.75, 0.05],
        [0.05, 0.42, 0.53],
        [0.10, 0.15, 0.75],
    ]
)


def test_hand_computed_example():
    r = evaluate_predictions(Y_TRUE, PROBA, LABELS, n_bootstrap=200, seed=0)
    assert r.n_tracks == 6
    assert r.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert r.accuracy.value == pytest.approx(4 / 6)
    by = {c.label: c for c in r.per_class}
    assert (by["a"].precision, by["a"].recall, by["a"].f1) == pytest.approx((1.0, 2 / 3, 0.8))
    assert (by["b"].precision, by["b"].recall, by["b"].f1) == pytest.approx((0.5, 0.5, 0.5))
    assert (by["c"].precision, by["c"].recall, by["c"].f1) == pytest.approx((0.5, 1.0, 2 / 3))
    assert [by[k].support for k in LABELS] == [3, 2, 1]
    assert [by[k].n_predicted for k in LABELS] == [2, 2, 2]
    assert r.macro_f1.value == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    # AUC a: every positive above every negative; b: 7 of 8 pairs ordered; c: 5 of 5.
    assert r.roc_auc_macro.value == pytest.approx((1.0 + 7 / 8 + 1.0) / 3)
    # ECE bins: {.85 ok} {.62 ok, .62 wrong} {.75 ok, .75 ok} {.53 wrong}
    assert r.ece.value == pytest.approx((0.15 + 2 * 0.12 + 2 * 0.25 + 0.53) / 6)


def test_matches_sklearn_on_random_predictions():
    rng = np.random.default_rng(5)
    labels = [f"g{i}" for i in range(6)]
    y = rng.integers(0, 6, 300)
    proba = rng.dirichlet(np.ones(6), size=300)
    proba[np.arange(300), y] += rng.random(300)
    proba /= proba.sum(axis=1, keepdims=True)
    r = evaluate_predictions([labels[i] for i in y], proba, labels, n_bootstrap=0)
    pred = proba.argmax(axis=1)
    assert r.accuracy.value == pytest.approx(np.mean(pred == y))
    assert r.macro_f1.value == pytest.approx(f1_score(y, pred, average="macro"))
    assert r.roc_auc_macro.value == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert macro_f1_from_confusion(confusion_counts(y, pred, 6)) == pytest.approx(f1_score(y, pred, average="macro"))
    assert math.isnan(r.accuracy.low) and math.isnan(r.accuracy.high)


def test_binary_auc_counts_ties_as_half():
    assert binary_roc_auc(np.array([1, 0], bool), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert binary_roc_auc(np.array([1, 1, 0], bool), np.array([0.9, 0.2, 0.5])) == pytest.approx(0.5)
    assert math.isnan(binary_roc_auc(np.array([1, 1], bool), np.array([0.1, 0.2])))


def test_labels_absent_from_truth_are_skipped_in_auc_and_macro_f1():
    labels = ["a", "b", "c", "d"]
    proba = np.hstack([PROBA * 0.9, np.full((6, 1), 0.1)])
    r = evaluate_predictions(Y_TRUE, proba, labels, n_bootstrap=50)
    assert r.roc_auc_labels == ["a", "b", "c"]
    assert r.macro_f1_labels == ["a", "b", "c"]
    assert r.roc_auc_macro.value == pytest.approx((1.0 + 7 / 8 + 1.0) / 3)
    assert r.macro_f1.value == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert any("d" in note for note in r.notes)


def test_a_predicted_but_never_true_label_counts_with_f1_zero():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    r = evaluate_predictions(["a", "a", "a"], proba, ["a", "b"], n_bootstrap=0)
    assert r.macro_f1.value == pytest.approx((0.5 + 0.0) / 2)
    assert math.isnan(r.roc_auc_macro.value)


def test_to_dict_is_strict_json():
    r = evaluate_predictions(["a", "a"], np.array([[0.9, 0.1], [0.6, 0.4]]), ["a", "b"], n_bootstrap=20)
    data = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert data["roc_auc_macro"]["value"] is None
    assert data["accuracy"] == {"value": 1.0, "low": 1.0, "high": 1.0}
    assert data["bootstrap"] == {"n_bootstrap": 20, "confidence": 0.95, "seed": 0}


def test_bad_inputs_raise():
    with pytest.raises(InvalidParameterError, match="not known"):
        evaluate_predictions(["a", "z"], PROBA[:2], LABELS)
    with pytest.raises(InvalidParameterError, match="shape"):
        evaluate_predictions(Y_TRUE, PROBA[:, :2], LABELS)
    with pytest.raises(InvalidParameterError, match="zero tracks"):
        evaluate_predictions([], np.zeros((0, 3)), LABELS)
    with pytest.raises(InvalidParameterError, match="probabilities"):
        evaluate_predictions(Y_TRUE, PROBA * 2, LABELS)
    with pytest.raises(InvalidParameterError, match="n_bootstrap"):
        evaluate_predictions(Y_TRUE, PROBA, LABELS, n_bootstrap=-1)


def test_auroc_of_two_groups_matches_scikit_learn_and_handles_ties_and_empty_groups() -> None:
    from genrekit.evaluation.metrics import auroc

    assert auroc(np.array([0.1, 0.2]), np.array([0.3, 0.4])) == 1.0
    assert auroc(np.array([0.5, 0.5]), np.array([0.5])) == 0.5
    assert math.isnan(auroc(np.array([]), np.array([0.5])))
    rng = np.random.default_rng(3)
    neg, pos = rng.normal(size=40).round(1), rng.normal(0.5, size=30).round(1)
    expected = roc_auc_score(np.r_[np.zeros(40), np.ones(30)], np.r_[neg, pos])
    assert auroc(neg, pos) == pytest.approx(expected, abs=1e-12)


def test_macro_recall_and_track_figures() -> None:
    from genrekit.evaluation.metrics import macro_recall, rate_with_ci, track_figures

    y = np.array([0, 0, 0, 1])
    pred = np.array([0, 0, 1, 1])
    assert macro_recall(y, pred) == pytest.approx((2 / 3 + 1) / 2)
    assert math.isnan(macro_recall(np.array([], int), np.array([], int)))
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])
    figures = track_figures(proba, y, ["a", "b"], seed=0, n_bootstrap=200)
    assert figures["n_tracks"] == 4 and figures["accuracy"]["value"] == 0.75
    assert figures["macro_recall"]["value"] == round((2 / 3 + 1) / 2, 4)
    low, high = figures["accuracy"]["ci95"]
    assert low <= 0.75 <= high
    assert figures["per_label_recall"] == {"a": 0.667, "b": 1.0}
    assert figures["nll"] == round(float(-np.mean(np.log([0.9, 0.8, 0.4, 0.7]))), 4)
    hits = np.array([True, False, True, True])
    assert rate_with_ci(hits, np.zeros(4, bool), seed=0) == {"rate": None, "ci95": None, "n": 0}
    assert rate_with_ci(hits, hits | True, seed=0, n_bootstrap=100)["rate"] == 0.75
