"""The served ONNX Runtime graph seen as ``windows -> spectrogram -> probabilities``, in NumPy.

:func:`array_view` is the serving-path twin of the PyTorch explainers: the same
:class:`~genrekit.models.families.SpectrogramView` split of a musicnn head (its
``log10(1 + 10000 mel)`` input, 96 bands at 62.5 frames/s, then the networks), but on
NumPy arrays, and the second step is the graph the service already runs,
so occlusion and the deletion check work without PyTorch. Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genrekit.errors import InvalidParameterError
from genrekit.models.families import SpectrogramView


def supports_array_view(model: Any) -> bool:
    """Whether :func:`array_view` can split ``model`` (an ONNX Runtime musicnn head)."""
    return callable(getattr(model, "predict_proba_patches", None)) and hasattr(model, "pad_mode")


def array_view(model: Any) -> SpectrogramView:
    """The :class:`~genrekit.models.families.SpectrogramView`, on NumPy arrays, of an
    :class:`~genrekit.models.onnx_runtime.OnnxMusicnnHead`.

    Raises
    ------
    InvalidParameterError
        ``model`` is not an ONNX Runtime musicnn head.
    """
    from genrekit.features.spectral import MUSICNN_HOP_LENGTH, MUSICNN_SR, musicnn_window_patches

    if not supports_array_view(model):
        raise InvalidParameterError(f"no ONNX Runtime saliency for a {type(model).__name__}")

    def spectrogram(windows: np.ndarray) -> np.ndarray:
        patches = musicnn_window_patches(np.asarray(windows, dtype=np.float32), pad_mode=model.pad_mode)
        return np.ascontiguousarray(np.swapaxes(patches, 1, 2))  # (n, 96, 187): bands first

    def proba(spec: np.ndarray) -> np.ndarray:
        return model.predict_proba_patches(np.swapaxes(np.asarray(spec, dtype=np.float32), 1, 2))

    return SpectrogramView(spectrogram, proba, MUSICNN_SR / MUSICNN_HOP_LENGTH, "musicnn log-mel", MUSICNN_SR / 2)
