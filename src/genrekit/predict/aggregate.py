"""Window scores -> track scores: genre probabilities and backbone tags."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genrekit.errors import InvalidParameterError

AGGREGATIONS = ("mean", "log_mean")

_LOG_FLOOR = 1e-7  # probability floor before taking logs


def aggregate_probabilities(
    probs: np.ndarray, *, weights: np.ndarray | None = None, method: str = "mean"
) -> np.ndarray:
    """Combine window probabilities into one track-level distribution.

    Parameters
    ----------
    probs : np.ndarray [shape=(n_windows, n_labels)]
        Per-window class probabilities (rows sum to 1).
    weights : np.ndarray [shape=(n_windows,)] or None
        Non-negative window weights; ``None`` weighs every window equally.
    method : {"mean", "log_mean"}
        ``"mean"``: weighted arithmetic mean of the probabilities. ``"log_mean"``: weighted
        mean of the log-probabilities (floored at 1e-7), exponentiated and renormalised
        (a geometric mean: one confident window weighs less, consistent windows more).

    Returns
    -------
    np.ndarray [shape=(n_labels,), dtype=float64]
        Sums to 1.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] == 0:
        raise InvalidParameterError(f"probs must have shape (n_windows >= 1, n_labels >= 1), got {probs.shape}")
    if method not in AGGREGATIONS:
        raise InvalidParameterError(f"method must be one of {AGGREGATIONS}, got {method!r}")
    if weights is None:
        w = np.full(probs.shape[0], 1.0 / probs.shape[0])
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (probs.shape[0],) or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise InvalidParameterError("weights must be finite, non-negative, one per window, not all zero")
        w = w / w.sum()
    if method == "mean":
        out = w @ probs
    else:
        log_mean = w @ np.log(np.maximum(probs, _LOG_FLOOR))
        out = np.exp(log_mean - log_mean.max())
    return out / out.sum()


def merge_tag_scores(
    tag_probs: dict[str, np.ndarray], tag_names: dict[str, Sequence[str]]
) -> dict[str, float]:
    """Merge the tag vocabularies of several backbones into one ``{tag: score}``.

    Names are lower-cased (MSD's ``"Hip-Hop"`` becomes ``"hip-hop"``); a tag present in
    several vocabularies (``"rock"`` in MSD and MTT) keeps its highest score.

    Parameters
    ----------
    tag_probs : dict of str to np.ndarray [shape=(n_tags,)]
        Track-level tag probabilities per backbone.
    tag_names : dict of str to list of str
        The tag names of each backbone, in column order.
    """
    merged: dict[str, float] = {}
    for backbone, scores in tag_probs.items():
        names = tag_names[backbone]
        if len(names) != len(scores):
            raise InvalidParameterError(
                f"backbone {backbone!r} gives {len(scores)} tag scores for {len(names)} tag names"
            )
        for tag, score in zip(names, scores):
            key = str(tag).lower()
            merged[key] = max(merged.get(key, 0.0), float(score))
    return merged

