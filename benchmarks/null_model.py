"""A model that does no inference, for measuring the batch engine's decode floor.

``decode_floor`` bundles have the default model's sample rate, window and ``max_windows``,
so :class:`genrekit.predict.Classifier` reads and decodes exactly the same audio, cuts the
same windows and runs the same checks; only the network is replaced by uniform
probabilities. Imported by ``bench_catalog.py`` (and, through the engine's preload, by its
worker processes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from genrekit.bundle.card import ModelCard
from genrekit.bundle.io import read_card, save_bundle
from genrekit.models.loaders import register_model_type


class DecodeFloorModel:
    """Uniform probabilities over the default model's labels, instantly."""

    def __init__(self, card: ModelCard) -> None:
        self.labels = list(card.labels)
        self.sample_rate = int(card.sample_rate)
        self.window_s = float(card.window_s)
        self.tag_names: dict[str, list[str]] = {}

    def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
        return np.full((len(windows), len(self.labels)), 1.0 / len(self.labels), dtype=np.float32)


@register_model_type("decode_floor")
def _load(card: ModelCard, tensors: dict[str, Any]) -> DecodeFloorModel:
    return DecodeFloorModel(card)


def save_decode_floor_bundle(directory: Path) -> Path:
    """A ``decode_floor`` bundle shaped like the default model's."""
    import torch

    default = read_card(None)
    card = ModelCard(
        name="decode-floor",
        version="0",
        model_type="decode_floor",
        labels=list(default.labels),
        sample_rate=default.sample_rate,
        window_s=default.window_s,
        config={"max_windows": int(default.config.get("max_windows", 0))},
    )
    return save_bundle(directory, card, {"unused": torch.zeros(1)})
