"""Tests of genrekit.training.levels: the level rules chosen on held-out tracks and measured on
the source left out."""

from __future__ import annotations

import numpy as np
import pytest

from genrekit.predict import assess_uncertainty, uncertainty_thresholds
from genrekit.training.levels import apply_rules, card_levels, choose_rules, in_words, measure_levels, n_named

N_LABELS = 5


def _held_out(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities whose top genre is right more often the higher its score (like a calibrated model)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_LABELS, n)
    logits = rng.normal(0, 1, (n, N_LABELS))
    strength = rng.uniform(0, 4, n)
    logits[np.arange(n), y] += strength
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return proba, y


def test_n_named_reaches_the_cover_with_two_to_three_genres() -> None:
    sorted_probs = np.array([[0.5, 0.3, 0.1, 0.1], [0.4, 0.2, 0.2, 0.2], [0.9, 0.05, 0.03, 0.02]])
    np.testing.assert_array_equal(n_named(sorted_probs, 0.75), [2, 3, 2])
    np.testing.assert_array_equal(n_named(sorted_probs, 1.01), [3, 3, 3])


def test_chosen_rules_reach_the_confident_target_on_their_own_data() -> None:
    proba, y = _held_out(2000, 0)
    rules = choose_rules(proba, y, None, false_unknown_rate=0.1, confident_target=0.9, mixed_target=0.9)
    levels, named = apply_rules(proba, None, rules)
    confident = levels == "confident"
    assert 0.05 < confident.mean() < 0.95
    assert (proba[confident].argmax(1) == y[confident]).mean() >= 0.9
    assert np.all(named[confident] == 1) and np.all((named[~confident] >= 2) & (named[~confident] <= 3))
    # a stricter target can only shrink the confident share
    strict = choose_rules(proba, y, None, false_unknown_rate=0.1, confident_target=0.97, mixed_target=0.9)
    assert (apply_rules(proba, None, strict)[0] == "confident").mean() <= confident.mean()


def test_measured_rates_come_from_sources_the_rules_never_saw() -> None:
    proba, y = _held_out(900, 1)
    folds = np.array(["a", "b", "c"] * 300, dtype=object)
    rng = np.random.default_rng(2)
    ood_in = rng.uniform(0, 0.6, 900)
    ood_out = rng.uniform(0.4, 1.0, 120)
    fold_out = np.array(["x"] * 60 + ["a"] * 60, dtype=object)
    rules, measured = measure_levels(proba, y, folds, ood_in, ood_out, fold_out, false_unknown_rate=0.1,
                                     confident_target=0.9, mixed_target=0.9, seed=0, n_bootstrap=100)
    assert rules.ood_threshold is not None and 0.45 < rules.ood_threshold < 0.6
    assert 0.05 <= measured["unknown"]["in_taxonomy_rate"]["rate"] <= 0.15
    assert measured["unknown"]["rate"] > 0.5  # the outside scores sit mostly above the in-taxonomy ones
    for level in ("confident", "mixed"):
        entry = measured[level]
        assert entry["ci95"][0] <= entry["rate"] <= entry["ci95"][1]
    assert set(measured["per_source"]) == {"a", "b", "c", "x"}
    # what predictions carry: the card's levels read back through the serving code
    card = {"uncertainty": {**rules.to_dict(), "levels": card_levels(measured)}}
    thresholds = uncertainty_thresholds(card)
    result = assess_uncertainty(np.array([0.96, 0.01, 0.01, 0.01, 0.01]), thresholds=thresholds, ood_score=0.0)
    assert result.level == "confident" and result.reliability is not None
    assert result.reliability.rate == measured["confident"]["rate"]


def test_a_curve_the_caller_has_is_used_not_recomputed(monkeypatch: pytest.MonkeyPatch) -> None:
    from genrekit.training import levels

    proba, y = _held_out(300, 3)
    folds = np.array(["a", "b", "c"] * 100, dtype=object)
    rng = np.random.default_rng(4)
    ood_in, ood_out = rng.uniform(0, 0.6, 300), rng.uniform(0.3, 1.0, 40)
    fold_out = np.array(["x"] * 20 + ["a"] * 20, dtype=object)
    kwargs = {"false_unknown_rate": 0.1, "confident_target": 0.9, "mixed_target": 0.9, "seed": 0, "n_bootstrap": 50}
    rules, measured = measure_levels(proba, y, folds, ood_in, ood_out, fold_out, **kwargs)
    curve = levels.unknown_curve(ood_in, folds, ood_out, fold_out)
    monkeypatch.setattr(levels, "unknown_curve", lambda *args: pytest.fail("the curve was computed again"))
    again = measure_levels(proba, y, folds, ood_in, ood_out, fold_out, curve=curve, **kwargs)
    assert again == (rules, measured) and again[1]["unknown_curve"] is curve


def test_in_words() -> None:
    assert in_words(0.87) == "about 9 times in 10"
    assert in_words(0.52) == "about 5 times in 10"
    assert in_words(0.99) == "almost always"


def test_share_in_words_and_the_best_point_of_the_curve() -> None:
    from genrekit.training.levels import best_at_target, share_in_words

    assert share_in_words(0.15) == "about 1 in 7" and share_in_words(0.012) == "about 1 in 83"
    assert share_in_words(0.4) == "about 4 in 10" and share_in_words(0.0) == "none of the"
    curve = [{"quantile_rate": 0.01, "in_taxonomy_unknown": 0.01, "out_of_taxonomy_caught": 0.15},
             {"quantile_rate": 0.03, "in_taxonomy_unknown": 0.09, "out_of_taxonomy_caught": 0.15},
             {"quantile_rate": 0.1, "in_taxonomy_unknown": 0.3, "out_of_taxonomy_caught": 0.4}]
    assert best_at_target(curve, 0.1)["quantile_rate"] == 0.01  # same catch, fewer false alarms
    assert best_at_target(curve, 0.005) is None
