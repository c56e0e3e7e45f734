"""Track probabilities (+ an optional out-of-distribution score) -> :class:`Uncertainty`.

The thresholds come from the bundle's card (``card.config["uncertainty"]``); a card without
them gets :data:`DEFAULT_THRESHOLDS`, which only tell "confident" from "mixed".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from genrekit.errors import InvalidParameterError
from genrekit.predict.schema import Uncertainty

DEFAULT_THRESHOLDS: dict[str, float] = {
    "mixed_margin": 0.15,  # top-1 minus top-2 probability below this: "mixed"
    "mixed_top_score": 0.40,  # top-1 probability below this: "mixed"
}
"""Used where the card sets none; ``ood_threshold`` (``ood_score`` at or above: "unknown")
has no default, since it only means something for the model whose scores it was tuned on."""


def uncertainty_thresholds(config: Mapping[str, Any] | None) -> dict[str, float]:
    """The thresholds of a card's ``config`` (its ``"uncertainty"`` table over the defaults)."""
    table = dict((config or {}).get("uncertainty") or {})
    unknown_keys = set(table) - set(DEFAULT_THRESHOLDS) - {"ood_threshold", "ood_method"}
    if unknown_keys:
        raise InvalidParameterError(f"unknown uncertainty settings in the card: {sorted(unknown_keys)}")
    merged: dict[str, Any] = {**DEFAULT_THRESHOLDS, **table}
    return merged


def assess_uncertainty(
    track_probs: np.ndarray,
    *,
    thresholds: Mapping[str, Any],
    ood_score: float | None = None,
    not_music: bool = False,
) -> Uncertainty:
    """How far to trust the top genre of one track.

    Parameters
    ----------
    track_probs : np.ndarray [shape=(n_labels,)]
        Track-level probabilities (sum to 1).
    thresholds : mapping
        ``mixed_margin``, ``mixed_top_score`` and optionally ``ood_threshold`` (see
        :func:`uncertainty_thresholds`).
    ood_score : float in [0, 1] or None
        Out-of-distribution score of the track, where the model has one.
    not_music : bool
        The input failed the music or silence check: the answer is "unknown".

    Returns
    -------
    Uncertainty
        ``"unknown"`` if ``not_music`` or ``ood_score >= ood_threshold``; else ``"mixed"``
        if the top two genres are within ``mixed_margin`` or the top score is below
        ``mixed_top_score``; else ``"confident"``.
    """
    probs = np.sort(np.asarray(track_probs, dtype=np.float64))[::-1]
    if probs.ndim != 1 or probs.size == 0:
        raise InvalidParameterError(f"track_probs must have shape (n_labels >= 1,), got {np.shape(track_probs)}")
    score = None if ood_score is None else round(float(np.clip(ood_score, 0.0, 1.0)), 4)
    ood_threshold = thresholds.get("ood_threshold")
    if not_music or (score is not None and ood_threshold is not None and score >= float(ood_threshold)):
        return Uncertainty(level="unknown", ood_score=score)
    margin = probs[0] - (probs[1] if probs.size > 1 else 0.0)
    if margin < float(thresholds["mixed_margin"]) or probs[0] < float(thresholds["mixed_top_score"]):
        return Uncertainty(level="mixed", ood_score=score)
    return Uncertainty(level="confident", ood_score=score)
