"""Percentile bootstrap over tracks: resample with replacement, recompute, take percentiles."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from genrekit.errors import InvalidParameterError


def bootstrap_indices(n_items: int, *, n_bootstrap: int, seed: int) -> np.ndarray:
    """Seeded bootstrap resamples of item indices.

    Parameters
    ----------
    n_items : int >= 1
        Number of items (tracks) in the evaluated set.
    n_bootstrap : int >= 1
        Number of resamples.
    seed : int

    Returns
    -------
    np.ndarray [shape=(n_bootstrap, n_items), dtype=int64]
        Each row draws ``n_items`` indices uniformly with replacement.
    """
    if n_items < 1 or n_bootstrap < 1:
        raise InvalidParameterError(f"need n_items >= 1 and n_bootstrap >= 1, got {n_items} and {n_bootstrap}")
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_items, size=(n_bootstrap, n_items), dtype=np.int64)


def percentile_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Central percentile interval of bootstrap replicates, ignoring NaN.

    Parameters
    ----------
    values : np.ndarray [shape=(n_bootstrap,)]
        The statistic on each resample (NaN where undefined).
    confidence : float in (0, 1)

    Returns
    -------
    (float, float)
        The ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles, or NaN, NaN
        if no replicate is defined.
    """
    if not 0.0 < confidence < 1.0:
        raise InvalidParameterError(f"confidence must be in (0, 1), got {confidence}")
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return math.nan, math.nan
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high)


def bootstrap_ci(
    statistic: Callable[[np.ndarray], float],
    n_items: int,
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of any statistic of a resample.

    Parameters
    ----------
    statistic : callable
        ``statistic(indices) -> float`` computes the metric on the items at ``indices``
        (an int64 array of length ``n_items``, with repeats); NaN means undefined.
    n_items : int >= 1
    n_bootstrap : int >= 1
    seed : int
    confidence : float in (0, 1)

    Returns
    -------
    (float, float)
        Lower and upper bounds.
    """
    idx = bootstrap_indices(n_items, n_bootstrap=n_bootstrap, seed=seed)
    values = np.array([statistic(row) for row in idx], dtype=np.float64)
    return percentile_interval(values, confidence)
