"""A model type whose worker process dies (``os._exit``) on a window of digital silence: a stand-in
for a decoder that crashes on one bad file. Imported by the engine's workers through ``preload``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genrekit.bundle.card import ModelCard
from genrekit.bundle.io import save_bundle
from genrekit.models.loaders import register_model_type
from tests.predict.test_classifier import TINY_LABELS, TINY_SR, TINY_WINDOW_S


def _any_silent(windows: np.ndarray) -> bool:
    """Whether any window (of a batch that may hold several songs' windows) is all zeros."""
    return not np.all(np.any(np.reshape(windows, (len(windows), -1)), axis=1))


class CrashOnSilence:
    labels = TINY_LABELS
    sample_rate = TINY_SR
    window_s = TINY_WINDOW_S
    tag_names: dict[str, list[str]] = {}

    def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
        if _any_silent(windows):
            os._exit(3)  # the whole process dies, as a segfaulting decoder would
        return np.full((len(windows), len(self.labels)), 1.0 / len(self.labels), dtype=np.float32)


@register_model_type("crash_on_silence")
def _load(card: ModelCard, tensors: dict[str, Any]) -> CrashOnSilence:
    return CrashOnSilence()


def save_crashing_bundle(directory: Path) -> Path:
    card = ModelCard(name="crash-test", version="1", model_type="crash_on_silence", labels=list(TINY_LABELS),
                     sample_rate=TINY_SR, window_s=TINY_WINDOW_S)
    return save_bundle(directory, card, {"unused": torch.zeros(1)})


class CrashOnSilenceWhileDecoding(CrashOnSilence):
    """The same crash in the pipelined engine's decoding stage (its patch step runs in the decoders)."""

    def window_patches(self, windows: np.ndarray) -> np.ndarray:
        if _any_silent(windows):
            os._exit(3)
        return np.asarray(windows, dtype=np.float32)

    def predict_outputs_patches(self, patches: np.ndarray) -> tuple[np.ndarray, dict, None]:
        return self.predict_proba_windows(patches), {}, None


@register_model_type("crash_on_silence_while_decoding")
def _load_decoding(card: ModelCard, tensors: dict[str, Any]) -> CrashOnSilenceWhileDecoding:
    return CrashOnSilenceWhileDecoding()


def save_decoder_crashing_bundle(directory: Path) -> Path:
    card = ModelCard(name="crash-decoding-test", version="1", model_type="crash_on_silence_while_decoding",
                     labels=list(TINY_LABELS), sample_rate=TINY_SR, window_s=TINY_WINDOW_S)
    return save_bundle(directory, card, {"unused": torch.zeros(1)})
