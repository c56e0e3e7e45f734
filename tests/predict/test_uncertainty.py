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
