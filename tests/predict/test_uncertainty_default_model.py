"""The shipped model says "unknown" more often for what is not GTZAN-genre music than for
GTZAN valid clips: a steady tone, noise, speech-like bursts and real out-of-taxonomy clips
(../shared/data; skipped where it or a model with an out-of-taxonomy score is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genrekit.predict import Classifier

SR = 16000
N_CLIPS = 8  # per set: real clips, 4 windows each, keep the test to a few seconds


@pytest.fixture(scope="module")
def default_classifier() -> Classifier:
    clf = Classifier.load()
    if "ood_threshold" not in clf.uncertainty_thresholds:
        pytest.skip("the default bundle has no out-of-taxonomy threshold")
    return clf


def _spread(paths: list[Path], n: int) -> list[Path]:
    """``n`` paths spread over a sorted list (several genres, deterministic)."""
    paths = sorted(paths)
    return [paths[int(i * len(paths) / n)] for i in range(n)]


def _synthetic_non_music() -> list[np.ndarray]:
    t = np.arange(8 * SR) / SR
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    noise = 0.3 * np.random.default_rng(0).standard_normal(len(t))
    burst = (t % 0.45) < 0.2  # speech-like: voiced bursts of a gliding 120 Hz pitch between pauses
    speech = burst * sum(np.sin(2 * np.pi * 120 * (1 + 0.2 * np.sin(3 * t)) * k * t) / k for k in range(1, 10))
    return [y.astype(np.float32) for y in (tone, noise, 0.5 * speech)]


@pytest.mark.slow
def test_non_music_and_out_of_taxonomy_come_out_unknown_more_often_than_gtzan(
    shared_data: Path, default_classifier: Classifier
) -> None:
    outside_root = shared_data / "out-of-taxonomy"
    if not outside_root.is_dir():
        pytest.skip(f"{outside_root} not found")
    gtzan = _spread(list((shared_data / "gtzan-dev" / "valid").glob("*/*.flac")), N_CLIPS)
    outside = _spread(list(outside_root.glob("*/*.ogg")), N_CLIPS)

    def unknown_rate(predictions: list) -> float:
        return float(np.mean([p.uncertainty.level == "unknown" for p in predictions]))

    gtzan_predictions = [default_classifier.predict(p, top_k=0) for p in gtzan]
    outside_predictions = [default_classifier.predict(p, top_k=0) for p in outside]
    synthetic = [default_classifier.predict(y, sr=SR, top_k=0) for y in _synthetic_non_music()]
    assert all(p.uncertainty.ood_score is not None for p in gtzan_predictions + outside_predictions + synthetic)
    assert unknown_rate(synthetic) == 1.0
    assert unknown_rate(synthetic + outside_predictions) > unknown_rate(gtzan_predictions)
    # The score ranks these clips as more likely outside the genres; at the card's threshold
    # (10% false "unknown" on held-out sources) grouped CV flags only 9% of out-of-taxonomy
    # clips (docs/results.md), so the clips alone are not asserted to cross it.
    mean_gtzan = np.mean([p.uncertainty.ood_score for p in gtzan_predictions])
    assert np.mean([p.uncertainty.ood_score for p in outside_predictions]) > mean_gtzan


def test_levels_and_their_measured_meaning_come_from_the_card(default_classifier: Classifier) -> None:
    from tests.predict.test_classifier import music_like

    levels = default_classifier.uncertainty_thresholds.get("levels") or {}
    if not levels:
        pytest.skip("the default bundle's card measures no levels")
    prediction = default_classifier.predict(music_like(12.0, SR), sr=SR, top_k=0)
    uncertainty = prediction.uncertainty
    expected = levels.get(uncertainty.level)
    if expected is None:
        assert uncertainty.reliability is None
    else:
        assert uncertainty.reliability is not None
        assert uncertainty.reliability.rate == expected["rate"]
        assert uncertainty.reliability.statement == expected["statement"]
    assert len(uncertainty.named) == {"confident": 1, "mixed": len(uncertainty.named), "unknown": 0}[uncertainty.level]
    if uncertainty.level == "confident":
        assert uncertainty.named == [prediction.genres[0].genre]
    if uncertainty.level == "mixed":
        assert 2 <= len(uncertainty.named) <= 3
        assert uncertainty.named == [g.genre for g in prediction.genres[: len(uncertainty.named)]]
