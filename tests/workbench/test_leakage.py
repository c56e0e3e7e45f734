"""The leaky segment split inflates accuracy where segments of a track look alike."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from genrekit.errors import InvalidParameterError
from genrekit.workbench.leakage import segment_leakage_comparison


def _segments(seed: int = 0):
    """Tracks whose segments share a strong per-track 'fingerprint' and a weak genre signal."""
    rng = np.random.default_rng(seed)
    X, labels, tracks = [], [], []
    for t in range(60):
        label = ["a", "b", "c"][t % 3]
        genre_center = np.eye(3)[t % 3] * 0.5
        fingerprint = rng.normal(scale=3.0, size=3)
        for _ in range(8):
            X.append(np.concatenate([genre_center + rng.normal(scale=0.5, size=3), fingerprint + rng.normal(scale=0.05, size=3)]))
            labels.append(label)
            tracks.append(f"t{t:02d}")
    return np.array(X), labels, tracks


def test_leaky_split_is_inflated_and_honest_split_keeps_tracks_apart():
    X, labels, tracks = _segments()
    result = segment_leakage_comparison(
        X, labels, tracks, lambda: KNeighborsClassifier(n_neighbors=1), estimator_name="1-NN", n_repeats=3
    )
    assert result.n_tracks == 60 and result.n_segments == 480
    assert np.mean(result.leaky_segment_accuracy) > 0.95  # recognises the track
    assert np.mean(result.honest_segment_accuracy) < 0.7
    assert result.inflation > 0.3
    assert min(result.leaky_test_share_seen) > 0.9
    data = result.to_dict()
    assert data["inflation"] == pytest.approx(result.inflation)
    assert data["seeds"] == [0, 1, 2]


def test_same_seed_same_numbers():
    X, labels, tracks = _segments(1)
    make = lambda: KNeighborsClassifier(n_neighbors=3)  # noqa: E731
    first = segment_leakage_comparison(X, labels, tracks, make, seed=4, n_repeats=2)
    again = segment_leakage_comparison(X, labels, tracks, make, seed=4, n_repeats=2)
    assert first == again


def test_bad_inputs_raise():
    X, labels, tracks = _segments()
    make = lambda: KNeighborsClassifier()  # noqa: E731
    with pytest.raises(InvalidParameterError, match="agree"):
        segment_leakage_comparison(X[:-1], labels, tracks, make)
    with pytest.raises(InvalidParameterError, match="different labels"):
        segment_leakage_comparison(X, ["z"] + labels[1:], tracks, make)
    with pytest.raises(InvalidParameterError, match="test_fraction"):
        segment_leakage_comparison(X, labels, tracks, make, test_fraction=0.0)
