"""The served ONNX Runtime graph seen as ``windows -> spectrogram -> probabilities``, in NumPy.

:class:`ArrayView` is the serving-path twin of :class:`genrekit.explain.adapters.SpectrogramView`:
the same split of a musicnn head (its ``log10(1 + 10000 mel)`` input, 96 bands at 62.5
frames/s, then the networks), but the second step is the graph the service already runs,
so occlusion and the deletion check work without PyTorch. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from genrekit.errors import InvalidParameterError


@dataclass
class ArrayView:
    """A model split at its spectrogram, on NumPy arrays.

    Attributes
    ----------
    spectrogram : callable
        ``(n_windows, n_samples)`` float32 windows -> ``(n_windows, n_bins, n_frames)``.
    proba : callable
        ``(batch, n_bins, n_frames)`` -> ``(batch, n_labels)`` genre probabilities.
    frame_rate_hz : float
        Spectrogram frames per second.
    kind : str
        What the spectrogram is (``"musicnn log-mel"``).
    f_max_hz : float
        Top of the (mel) frequency axis.
    """

    spectrogram: Callable[[np.ndarray], np.ndarray]
    proba: Callable[[np.ndarray], np.ndarray]
    frame_rate_hz: float
    kind: str
    f_max_hz: float


def supports_array_view(model: Any) -> bool:
    """Whether :func:`array_view` can split ``model`` (an ONNX Runtime musicnn head)."""
    return callable(getattr(model, "predict_proba_patches", None)) and hasattr(model, "pad_mode")


def array_view(model: Any) -> ArrayView:
    """The :class:`ArrayView` of an :class:`~genrekit.models.onnx_runtime.OnnxMusicnnHead`.

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

    return ArrayView(spectrogram, proba, MUSICNN_SR / MUSICNN_HOP_LENGTH, "musicnn log-mel", MUSICNN_SR / 2)
