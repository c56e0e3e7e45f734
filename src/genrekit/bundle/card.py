"""The model card: everything needed to rebuild, trust and cite a bundled model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from genrekit.errors import BundleError

CARD_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ModelCard:
    """Description of a bundled model, saved as ``card.json``.

    Parameters
    ----------
    name : str
        Short model name, e.g. ``"genrekit-gtzan-musicnn"``.
    version : str
        Version of this model (not of genrekit).
    model_type : str
        Key of the loader in :mod:`genrekit.models.loaders` (e.g. ``"musicnn_head"``, ``"cnn2d"``).
    labels : list of str
        Class names; every probability vector follows this order.
    sample_rate : int
        Sample rate (Hz) the model expects.
    window_s : float
        Window length (seconds) the model classifies at once.
    features : dict
        Every feature parameter (n_fft, hop_length, n_mels, f_min_hz, f_max_hz, scale, ...).
    config : dict
        Architecture hyper-parameters needed to rebuild the model.
    training : dict
        Data (sources, fingerprint, number of tracks per label), seed, config, library versions.
    metrics : dict
        Validation metrics with their uncertainty, and the data they were measured on.
    limitations : list of str
        What the model is not good at.
    provenance : dict
        Where pretrained weights come from, licences, converter, authors.
    tags : list of str
        Optional tag vocabulary (e.g. the 50 MSD tags of the backbone).
    """

    name: str
    version: str
    model_type: str
    labels: list[str]
    sample_rate: int
    window_s: float
    features: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    limitations: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    format_version: int = CARD_FORMAT_VERSION
    genrekit_version: str = ""
    created: str = ""
    sha256: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The card as a JSON-ready dictionary."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelCard":
        """Build a card from a dictionary; unknown or missing keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BundleError(f"model card has unknown keys: {', '.join(unknown)}")
        required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise BundleError(f"model card lacks required keys: {', '.join(missing)}")
        if data.get("format_version", CARD_FORMAT_VERSION) > CARD_FORMAT_VERSION:
            raise BundleError(
                f"model card format_version {data['format_version']} is newer than this genrekit "
                f"understands ({CARD_FORMAT_VERSION}); upgrade genrekit"
            )
        labels = data["labels"]
        if not isinstance(labels, list) or not labels or len(set(labels)) != len(labels):
            raise BundleError("model card labels must be a non-empty list of distinct names")
        if int(data["sample_rate"]) <= 0 or float(data["window_s"]) <= 0:
            raise BundleError("model card sample_rate and window_s must be positive")
        return cls(**data)
