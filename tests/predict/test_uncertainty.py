"""Tests of genrekit.predict.uncertainty: the levels and the card's thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from genrekit.errors import InvalidParameterError
from genrekit.predict import DEFAULT_THRESHOLDS, assess_uncertainty, uncertainty_thresholds


def test_clear_winner_is_confident() -> None:
    result = assess_uncertainty(np.array([0.8, 0.1, 0.1]), thresholds=DEFAULT_THRESHOLDS)
    assert result.level == "confident" and result.ood_score is None


@pytest.mark.parametrize("probs", [[0.45, 0.40, 0.15], [0.35, 0.2, 0.2, 0.25]])
def test_close_or_low_top_is_mixed(probs: list[float]) -> None:
    assert assess_uncertainty(np.array(probs), thresholds=DEFAULT_THRESHOLDS).level == "mixed"


def test_ood_threshold_and_not_music_give_unknown() -> None:
    thresholds = uncertainty_thresholds({"uncertainty": {"ood_threshold": 0.6}})
    probs = np.array([0.9, 0.05, 0.05])
    assert assess_uncertainty(probs, thresholds=thresholds, ood_score=0.7).level == "unknown"
    below = assess_uncertainty(probs, thresholds=thresholds, ood_score=0.5)
    assert below.level == "confident" and below.ood_score == 0.5
    assert assess_uncertainty(probs, thresholds=DEFAULT_THRESHOLDS, not_music=True).level == "unknown"
    # Without a tuned threshold an OOD score is reported but decides nothing.
    assert assess_uncertainty(probs, thresholds=DEFAULT_THRESHOLDS, ood_score=0.99).level == "confident"


def test_card_thresholds_override_defaults_and_unknown_keys_fail() -> None:
    assert uncertainty_thresholds({"uncertainty": {"mixed_margin": 0.3}})["mixed_margin"] == 0.3
    assert uncertainty_thresholds(None) == DEFAULT_THRESHOLDS
    with pytest.raises(InvalidParameterError, match="unknown uncertainty settings"):
        uncertainty_thresholds({"uncertainty": {"mixed_marginn": 0.3}})


LABELS = ["blues", "jazz", "rock", "pop"]


def test_named_genres_follow_the_level_and_the_mixed_cover() -> None:
    thresholds = {**DEFAULT_THRESHOLDS, "mixed_cover": 0.8}
    confident = assess_uncertainty(np.array([0.05, 0.85, 0.05, 0.05]), thresholds=thresholds, labels=LABELS)
    assert confident.level == "confident" and confident.named == ["jazz"]
    two = assess_uncertainty(np.array([0.45, 0.40, 0.10, 0.05]), thresholds=thresholds, labels=LABELS)
    assert two.level == "mixed" and two.named == ["blues", "jazz"]  # 0.85 >= 0.8 after two
    three = assess_uncertainty(np.array([0.35, 0.30, 0.25, 0.10]), thresholds=thresholds, labels=LABELS)
    assert three.named == ["blues", "jazz", "rock"]
    capped = assess_uncertainty(np.array([0.26, 0.25, 0.25, 0.24]), thresholds=thresholds, labels=LABELS)
    assert len(capped.named) == 3  # never more than three
    unknown = assess_uncertainty(np.array([0.9, 0.05, 0.03, 0.02]), thresholds=thresholds, labels=LABELS,
                                 not_music=True)
    assert unknown.level == "unknown" and unknown.named == []


def test_reliability_comes_from_the_card_levels() -> None:
    levels = {"confident": {"rate": 0.91, "low": 0.86, "high": 0.95, "coverage": 0.4,
                            "statement": "right about 9 times in 10 on music from sources it never saw"}}
    thresholds = uncertainty_thresholds({"uncertainty": {"levels": levels}})
    confident = assess_uncertainty(np.array([0.9, 0.05, 0.05]), thresholds=thresholds)
    assert confident.reliability is not None and confident.reliability.rate == 0.91
    assert confident.reliability.statement.startswith("right about 9 times in 10")
    mixed = assess_uncertainty(np.array([0.4, 0.35, 0.25]), thresholds=thresholds)
    assert mixed.level == "mixed" and mixed.reliability is None  # the card measured no mixed rate
