"""The embedding a model declares in its card: ``config["embedding"]`` (part of the bundle format).

A model's card names its embedding (see :class:`EmbeddingSpec`): the blocks of the backbone
outputs it is made of, whether they are standardised with the head's statistics, and a name
and version. Vectors are only comparable within one :attr:`EmbeddingSpec.space`
(``name@version``): stores and searches key on it, so vectors of different models never mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genrekit.errors import BundleError


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
