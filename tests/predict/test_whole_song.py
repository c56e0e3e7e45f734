"""The whole song's answer built in parts (:meth:`Classifier.classify_windows` +
:meth:`Classifier.summarize`) is the answer of ``predict(max_windows=0)``, and each genre's
share of the windows."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from genrekit.errors import InvalidParameterError
from genrekit.predict import Classifier, WindowResults, window_shares
from tests.predict.test_classifier import TINY_SR, TINY_WEIGHT, TinyModel, music_like


@pytest.fixture()
def tiny() -> Classifier:
    return Classifier(TinyModel(TINY_WEIGHT))


def _in_parts(classifier: Classifier, y: np.ndarray, part_s: float, **options: object) -> WindowResults:
    gathered = WindowResults(embed=False)
    first = 0.0
    while first < len(y) / TINY_SR:
        gathered.extend(classifier.classify_windows(y, sr=TINY_SR, first_s=first, last_s=first + part_s, **options))
        first += part_s
    return gathered


@pytest.mark.parametrize("duration_s", [23.5, 20.5, 0.6])
def test_parts_summarised_give_the_every_window_prediction(tiny: Classifier, duration_s: float) -> None:
    y = music_like(duration_s, seed=4)
    if duration_s > 10:
        y[3 * TINY_SR : 5 * TINY_SR] = 0.0  # two silent windows: they do not vote
        y[12 * TINY_SR :] = np.random.default_rng(1).standard_normal(len(y) - 12 * TINY_SR).astype(np.float32) * 0.4
    whole = tiny.predict(y, sr=TINY_SR, max_windows=0).to_dict()
    gathered = _in_parts(tiny, y, 10.0)
    parts = tiny.summarize(gathered, n_samples=len(y), name="<array>").to_dict()
    assert gathered.n_windows == len(whole["segments"])
    spans = [(s["start_s"], s["end_s"], s["genre"]) for s in whole["segments"]]
    assert [(s["start_s"], s["end_s"], s["genre"]) for s in parts["segments"]] == spans
    for key, name in (("segments", "genre"), ("genres", "genre"), ("shares", "genre"), ("tags", "tag")):
        assert [g[name] for g in parts[key]] == [g[name] for g in whole[key]]
        np.testing.assert_allclose([g["score"] for g in parts[key]], [g["score"] for g in whole[key]], atol=1e-6)
    assert parts["uncertainty"] == whole["uncertainty"]
    assert parts["warnings"] == whole["warnings"] and parts["complete"] is True


def test_shares_count_the_voting_windows_each_genre_tops(tiny: Classifier) -> None:
    y = (0.3 * np.sin(2 * np.pi * 55.0 * np.arange(12 * TINY_SR) / TINY_SR)).astype(np.float32)  # low hum: "tonal"
    y[6 * TINY_SR :] = np.random.default_rng(0).standard_normal(6 * TINY_SR).astype(np.float32) * 0.5
    y[:2 * TINY_SR] = 0.0  # silent: left out of the shares, as out of the genres
    prediction = tiny.predict(y, sr=TINY_SR, max_windows=0)
    counts = Counter(s.genre for s in prediction.segments[2:])
    assert [s.genre for s in prediction.shares] == [g.genre for g in prediction.genres]
    assert {s.genre: s.score for s in prediction.shares} == {
        label: pytest.approx(counts.get(label, 0) / 10) for label in tiny.labels
    }
    assert len(counts) >= 2  # the crafted song really is split


def test_window_shares_without_voting_windows_count_them_all() -> None:
    top = np.array([0, 2, 2, 1])
    np.testing.assert_allclose(window_shares(top, np.zeros(4, bool), 3), [0.25, 0.25, 0.5])
    np.testing.assert_allclose(window_shares(top, np.array([True, True, False, False]), 3), [0.5, 0.0, 0.5])


def test_summarize_needs_windows_and_parts_must_match(tiny: Classifier) -> None:
    with pytest.raises(InvalidParameterError):
        tiny.summarize(WindowResults(), n_samples=100, name="x")
    with pytest.raises(InvalidParameterError):
        WindowResults(embed=True).extend(WindowResults(embed=False))
    empty_part = tiny.classify_windows(music_like(3.0), sr=TINY_SR, first_s=5.0)
    assert empty_part.n_windows == 0 and empty_part.n_measured == 0
