"""How much a leaky segment-level split inflates accuracy: a side-by-side measurement.

Cutting songs into short segments and splitting the SEGMENTS at random puts other seconds
of the same song in train and test. The model then recognises the song (its mix, its
singer, its recording) rather than the genre, and the test accuracy says little about new
music. :func:`segment_leakage_comparison` trains the same segment classifier on the same
segments twice per repeat:

* leaky: segments split at random (:func:`genrekit.training.splits.segment_random_split`);
* honest: tracks split at random, stratified by label, every segment following its track
  (:func:`genrekit.training.splits.make_splits` with ``scheme="random"``).

Both use the same ``test_fraction``; the difference of the segment accuracies is the
inflation. This module is pure: feature matrices in, numbers out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from genrekit.errors import InvalidParameterError


class ProbabilisticClassifier(Protocol):
    """A scikit-learn style classifier with ``classes_`` and ``predict_proba``."""

    classes_: np.ndarray

    def fit(self, X: np.ndarray, y: Sequence[Any]) -> Any:
        """Fit on features and labels."""
        ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, columns following ``classes_``."""
        ...


@dataclass(frozen=True)
class LeakageComparison:
    """Segment accuracy under a leaky and an honest split (mean and sd over repeats).

    Attributes
    ----------
    estimator : str
    n_tracks, n_segments : int
    test_fraction : float
    n_repeats : int
    seeds : list of int
    leaky_segment_accuracy : list of float
        Per repeat: segments split at random.
    honest_segment_accuracy : list of float
        Per repeat: tracks split, segments follow their track.
    honest_track_accuracy : list of float
        Per repeat: the honest test tracks, segment probabilities averaged per track.
    leaky_test_share_seen : list of float
        Per repeat: share of leaky test segments whose track also has segments in train.
    """

    estimator: str
    n_tracks: int
    n_segments: int
    test_fraction: float
    n_repeats: int
    seeds: list[int]
    leaky_segment_accuracy: list[float]
    honest_segment_accuracy: list[float]
    honest_track_accuracy: list[float]
    leaky_test_share_seen: list[float]

    @property
    def inflation(self) -> float:
        """Mean leaky minus mean honest segment accuracy (accuracy points as a fraction)."""
        return float(np.mean(self.leaky_segment_accuracy) - np.mean(self.honest_segment_accuracy))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary, with means, sds and the inflation."""
        data = asdict(self)
        for name in ("leaky_segment_accuracy", "honest_segment_accuracy", "honest_track_accuracy"):
            values = np.asarray(getattr(self, name))
            data[f"{name}_mean"] = float(values.mean())
            data[f"{name}_sd"] = float(values.std(ddof=1)) if values.size > 1 else 0.0
        data["inflation"] = self.inflation
        return data


def segment_leakage_comparison(
    features: np.ndarray,
    labels: Sequence[str],
    track_ids: Sequence[str],
    make_estimator: Callable[[], ProbabilisticClassifier],
    *,
    estimator_name: str = "",
    seed: int = 0,
    n_repeats: int = 5,
    test_fraction: float = 0.2,
) -> LeakageComparison:
    """Train one segment classifier under a leaky and an honest split, ``n_repeats`` times.

    Parameters
    ----------
    features : np.ndarray [shape=(n_segments, n_features)]
        One feature vector per segment.
    labels : sequence of str [length n_segments]
        Each segment's label (its track's).
    track_ids : sequence of str [length n_segments]
        Each segment's track; segments of one track share it.
    make_estimator : callable
        Returns a fresh, unfitted classifier (``fit``, ``predict_proba``, ``classes_``).
    estimator_name : str
    seed : int
        Repeat ``r`` uses seed ``seed + r`` for both splits.
    n_repeats : int >= 1
    test_fraction : float in (0, 1)

    Returns
    -------
    LeakageComparison
    """
    from genrekit.datasets.records import TrackRecord
    from genrekit.training.splits import make_splits, segment_random_split

    X = np.asarray(features, dtype=np.float64)
    labels = np.asarray([str(lab) for lab in labels])
    track_ids = np.asarray([str(t) for t in track_ids])
    if X.ndim != 2 or X.shape[0] != labels.size or labels.size != track_ids.size:
        raise InvalidParameterError(
            f"features (n_segments, n_features), labels and track_ids must agree; got {X.shape}, {labels.size}, {track_ids.size}"
        )
    if not 0.0 < test_fraction < 1.0:
        raise InvalidParameterError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if int(n_repeats) < 1:
        raise InvalidParameterError(f"n_repeats must be >= 1, got {n_repeats}")
    track_label: dict[str, str] = {}
    for t, lab in zip(track_ids, labels):
        if track_label.setdefault(t, lab) != lab:
            raise InvalidParameterError(f"track {t!r} has segments with different labels")
    segment_index = np.zeros(track_ids.size, dtype=np.int64)
    counts: dict[str, int] = {}
    for i, t in enumerate(track_ids):
        segment_index[i] = counts.get(t, 0)
        counts[t] = segment_index[i] + 1
    pairs = list(zip(track_ids.tolist(), segment_index.tolist()))
    position = {pair: i for i, pair in enumerate(pairs)}
    records = [TrackRecord(path=Path(t), label=lab, track_id=t) for t, lab in sorted(track_label.items())]

    leaky, honest, honest_track, seen = [], [], [], []
    seeds = [seed + r for r in range(int(n_repeats))]
    for s in seeds:
        split = segment_random_split(pairs, seed=s, test_fraction=test_fraction)
        train = np.array([position[p] for p in split["train"]])
        test = np.array([position[p] for p in split["test"]])
        leaky.append(_segment_accuracy(make_estimator, X, labels, train, test)[0])
        train_tracks = set(track_ids[train].tolist())
        seen.append(float(np.mean([t in train_tracks for t in track_ids[test]])))

        track_split = make_splits(records, "random", seed=s, valid_fraction=0.0, test_fraction=test_fraction)
        test_tracks = {r.track_id for r in track_split["test"]}
        is_test = np.array([t in test_tracks for t in track_ids])
        acc, proba, classes = _segment_accuracy(make_estimator, X, labels, np.flatnonzero(~is_test), np.flatnonzero(is_test))
        honest.append(acc)
        honest_track.append(_track_accuracy(proba, classes, labels[is_test], track_ids[is_test]))
    return LeakageComparison(
        estimator=estimator_name,
        n_tracks=len(track_label),
        n_segments=int(X.shape[0]),
        test_fraction=float(test_fraction),
        n_repeats=int(n_repeats),
        seeds=seeds,
        leaky_segment_accuracy=leaky,
        honest_segment_accuracy=honest,
        honest_track_accuracy=honest_track,
        leaky_test_share_seen=seen,
    )


def _segment_accuracy(
    make_estimator: Callable[[], ProbabilisticClassifier],
    X: np.ndarray,
    labels: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray]:
    model = make_estimator()
    model.fit(X[train], labels[train].tolist())
    proba = np.asarray(model.predict_proba(X[test]))
    classes = np.asarray(model.classes_).astype(str)
    predicted = classes[proba.argmax(axis=1)]
    return float(np.mean(predicted == labels[test])), proba, classes


def _track_accuracy(proba: np.ndarray, classes: np.ndarray, labels: np.ndarray, track_ids: np.ndarray) -> float:
    correct = []
    for t in np.unique(track_ids):
        rows = track_ids == t
        correct.append(classes[proba[rows].mean(axis=0).argmax()] == labels[rows][0])
    return float(np.mean(correct))
