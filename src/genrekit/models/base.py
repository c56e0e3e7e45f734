"""The one interface every loadable genre model offers to :mod:`genrekit.predict`.

Whatever its family (classical baseline, CNN, transfer head on a pretrained backbone,
ensemble), a model loaded from a bundle is a :class:`WaveformClassifier`: it receives
fixed-length mono windows at its own sample rate and returns class probabilities whose
columns follow ``labels``. Features are computed inside the model (as torch modules), so
the caller only decodes and segments audio.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class WaveformClassifier(Protocol):
    """A genre model ready for inference.

    Attributes
    ----------
    labels : list of str
        Class names; probability columns follow this order.
    sample_rate : int
        Sample rate (Hz) the windows must have.
    window_s : float
        Window length (seconds) the model was trained on.
    """

    labels: list[str]
    sample_rate: int
    window_s: float

    def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
        """Class probabilities for a batch of windows.

        Parameters
        ----------
        windows : np.ndarray [shape=(n_windows, n_samples), dtype=float32]
            Mono audio in [-1, 1] at ``sample_rate`` Hz, each ``round(window_s * sample_rate)`` samples.

        Returns
        -------
        np.ndarray [shape=(n_windows, len(labels)), dtype=float32]
            Rows sum to 1.
        """
        ...
