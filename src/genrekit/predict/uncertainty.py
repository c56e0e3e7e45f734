"""Track probabilities (+ an optional out-of-distribution score) -> :class:`Uncertainty`.

The thresholds come from the bundle's card (``card.config["uncertainty"]``); a card without
them gets :data:`DEFAULT_THRESHOLDS`, which only tell "confident" from "mixed".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from genrekit.errors import InvalidParameterError
from genrekit.predict.schema import Reliability, Uncertainty

DEFAULT_THRESHOLDS: dict[str, float] = {
    "mixed_margin": 0.15,  # top-1 minus top-2 probability below this: "mixed"
    "mixed_top_score": 0.40,  # top-1 probability below this: "mixed"
    "mixed_cover": 0.0,  # a mixed answer names top genres until their sum reaches this (2 at least, 3 at most)
}
"""Used where the card sets none; ``ood_threshold`` (``ood_score`` at or above: "unknown")
has no default, since it only means something for the model whose scores it was tuned on."""

MAX_NAMED = 3  # genres a mixed answer names at most
_CARD_KEYS = {"ood_threshold", "ood_method", "levels"}


def uncertainty_thresholds(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The thresholds of a card's ``config`` (its ``"uncertainty"`` table over the defaults),
    with ``levels``: what each level was measured to be worth (see :class:`Reliability`)."""
    table = dict((config or {}).get("uncertainty") or {})
    unknown_keys = set(table) - set(DEFAULT_THRESHOLDS) - _CARD_KEYS
    if unknown_keys:
        raise InvalidParameterError(f"unknown uncertainty settings in the card: {sorted(unknown_keys)}")
    merged: dict[str, Any] = {**DEFAULT_THRESHOLDS, **table}
    return merged


def _reliability(thresholds: Mapping[str, Any], level: str) -> Reliability | None:
    entry = (thresholds.get("levels") or {}).get(level)
    if not entry:
        return None
    return Reliability(rate=float(entry["rate"]), low=float(entry["low"]), high=float(entry["high"]),
                       coverage=float(entry["coverage"]), statement=str(entry["statement"]))


def assess_uncertainty(
    track_probs: np.ndarray,
    *,
    thresholds: Mapping[str, Any],
    ood_score: float | None = None,
    not_music: bool = False,
    labels: Sequence[str] | None = None,
) -> Uncertainty:
    """How far to trust the top genre of one track.

    Parameters
    ----------
    track_probs : np.ndarray [shape=(n_labels,)]
        Track-level probabilities (sum to 1).
    thresholds : mapping
        ``mixed_margin``, ``mixed_top_score``, ``mixed_cover`` and optionally ``ood_threshold``
        and ``levels`` (see :func:`uncertainty_thresholds`).
    ood_score : float in [0, 1] or None
        Out-of-distribution score of the track, where the model has one.
    not_music : bool
        The input failed the music or silence check: the answer is "unknown".
    labels : sequence of str or None
        Names of the ``track_probs`` columns; ``named`` stays empty without them.

    Returns
    -------
    Uncertainty
        ``"unknown"`` if ``not_music`` or ``ood_score >= ood_threshold``; else ``"confident"``
        if the top score is at least ``mixed_top_score`` and leads the runner-up by at least
        ``mixed_margin``; else ``"mixed"``, naming the top genres until their scores add up to
        ``mixed_cover`` (two at least, three at most).
    """
    raw = np.asarray(track_probs, dtype=np.float64)
    if raw.ndim != 1 or raw.size == 0:
        raise InvalidParameterError(f"track_probs must have shape (n_labels >= 1,), got {np.shape(track_probs)}")
    order = np.argsort(-raw, kind="stable")
    probs = raw[order]
    names = [str(labels[i]) for i in order] if labels is not None else []
    score = None if ood_score is None else round(float(np.clip(ood_score, 0.0, 1.0)), 4)
    ood_threshold = thresholds.get("ood_threshold")
    if not_music or (score is not None and ood_threshold is not None and score >= float(ood_threshold)):
        level, n_named = "unknown", 0
    else:
        margin = probs[0] - (probs[1] if probs.size > 1 else 0.0)
        if margin >= float(thresholds["mixed_margin"]) and probs[0] >= float(thresholds["mixed_top_score"]):
            level, n_named = "confident", 1
        else:
            cumulative = np.cumsum(probs[:MAX_NAMED])
            reached = np.flatnonzero(cumulative >= float(thresholds.get("mixed_cover", 0.0)))
            n_named = int(reached[0]) + 1 if reached.size else MAX_NAMED
            level, n_named = "mixed", min(max(n_named, 2), probs.size)
    return Uncertainty(level=level, ood_score=score, named=names[:n_named],
                       reliability=_reliability(thresholds, level))
