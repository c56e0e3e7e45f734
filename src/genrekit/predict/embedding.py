"""Track embeddings: how a track's vector is formed from its windows' (see
:class:`genrekit.bundle.embedding.EmbeddingSpec` for what a model's embedding is).

Each window's vector is L2-normalised by the model; :func:`track_embedding` averages the
windows' vectors (weights: the windows that vote for the genre) and L2-normalises the mean,
so cosine similarity is a dot product.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DECIMALS = 6  # digits kept per component in JSON results


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows (or the vector) scaled to unit L2 norm; all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def track_embedding(window_vectors: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """A track's unit vector: the (weighted) mean of its windows' unit vectors, normalised.

    Parameters
    ----------
    window_vectors : np.ndarray [shape=(n_windows, dim)]
    weights : np.ndarray [shape=(n_windows,)] or None
        Non-negative window weights (e.g. 1 for windows above the silence level).
    """
    vectors = np.asarray(window_vectors, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        raise ValueError(f"window_vectors must have shape (n >= 1, dim), got {vectors.shape}")
    mean = np.average(vectors, axis=0, weights=weights)
    return l2_normalise(mean)


def as_json_vector(vector: np.ndarray) -> list[float]:
    """A vector as a JSON list of floats (:data:`DECIMALS` digits)."""
    return [round(float(v), DECIMALS) for v in np.asarray(vector).ravel()]


def as_json_vectors(vectors: Sequence[np.ndarray] | np.ndarray) -> list[list[float]]:
    """Several vectors as JSON lists (see :func:`as_json_vector`)."""
    return [as_json_vector(v) for v in vectors]
