"""Softmax, log-sum-exp and the logistic sigmoid over NumPy arrays, one of each for every room.

All three work on the last axis (logits in nats; probabilities in [0, 1]). ``softmax`` is
plain NumPy (the same operations, in the same order, as ``scipy.special.softmax``, so it is
cheap to import); ``logsumexp`` and ``sigmoid`` are SciPy's, imported when first called.
"""

from __future__ import annotations

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis: ``exp(z - max z) / sum exp(z - max z)``.

    Parameters
    ----------
    z : np.ndarray [shape=(..., n_labels)]
        Logits.

    Returns
    -------
    np.ndarray [shape=z.shape], rows summing to 1
    """
    shifted = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return shifted / np.sum(shifted, axis=-1, keepdims=True)


def logsumexp(z: np.ndarray) -> np.ndarray:
    """``log(sum(exp(z)))`` over the last axis, without overflow (``scipy.special.logsumexp``).

    Parameters
    ----------
    z : np.ndarray [shape=(..., n)]

    Returns
    -------
    np.ndarray [shape=z.shape[:-1]]
    """
    from scipy.special import logsumexp as scipy_logsumexp

    return scipy_logsumexp(z, axis=-1)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-z))``, elementwise (``scipy.special.expit``).

    Parameters
    ----------
    z : np.ndarray
        Log-odds.

    Returns
    -------
    np.ndarray [shape=z.shape], values in [0, 1]
    """
    from scipy.special import expit

    return expit(z)
