"""Track embeddings: which vector a model gives each window, and how a track's is formed.

A model's card names its embedding in ``config["embedding"]`` (see :class:`EmbeddingSpec`):
the blocks of the backbone outputs it is made of, whether they are standardised with the
head's statistics, and a name and version. Vectors are only comparable within one
:attr:`EmbeddingSpec.space` (``name@version``): stores and searches key on it, so vectors of
different models never mix.

Each window's vector is L2-normalised by the model; :func:`track_embedding` averages the
windows' vectors (weights: the windows that vote for the genre) and L2-normalises the mean,
so cosine similarity is a dot product.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genrekit.errors import BundleError

DECIMALS = 6  # digits kept per component in JSON results


@dataclass(frozen=True)
class EmbeddingSpec:
    """What a model's track embedding is.

    Parameters
    ----------
    name, version : str
        Identity of the vector space (a new recipe or new weights get a new version).
    blocks : tuple of str
        ``"<backbone>/<embedding>"`` blocks, concatenated in this order: the head's inputs
        (e.g. ``"MSD_musicnn/penultimate"``) or any backbone's ``"<backbone>/taggram"``.
    standardise : bool
        Standardise head-input blocks with the head's ``mean``/``scale`` before normalising.
    dim : int
        Width of the vector.
    """

    name: str
    version: str
    blocks: tuple[str, ...]
    standardise: bool
    dim: int

    @property
    def space(self) -> str:
        """``name@version``: vectors are comparable only within one space."""
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in ``card.config["embedding"]``."""
        return {
            "name": self.name,
            "version": self.version,
            "blocks": list(self.blocks),
            "standardise": self.standardise,
            "dim": self.dim,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmbeddingSpec:
        """Inverse of :meth:`to_dict`; raises :class:`BundleError` when malformed."""
        try:
            spec = cls(
                name=str(data["name"]),
                version=str(data["version"]),
                blocks=tuple(str(b) for b in data["blocks"]),
                standardise=bool(data.get("standardise", False)),
                dim=int(data["dim"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BundleError(f"card embedding config is malformed: {error}") from error
        if not spec.blocks or spec.dim < 1 or not spec.name:
            raise BundleError(f"card embedding config is malformed: {dict(data)}")
        return spec


def embedding_spec(config: Mapping[str, Any] | None) -> EmbeddingSpec | None:
    """The :class:`EmbeddingSpec` of a card's ``config`` (``None`` where it declares none)."""
    data = (config or {}).get("embedding")
    return None if data is None else EmbeddingSpec.from_dict(data)


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
