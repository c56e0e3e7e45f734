"""Each model family seen as ``waveform windows -> spectrogram -> probabilities``.

Saliency is computed on the spectrogram the model itself reads: musicnn's
``log10(1 + 10000 mel)`` patches (96 bands, 62.5 frames/s) for musicnn heads, the
log-mel (or MFCC) front end for the CNN and CRNN families. The second step is
differentiable. Raw-waveform models (``cnn1d``) and table models have no spectrogram.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genrekit.errors import InvalidParameterError


@dataclass
class SpectrogramView:
    """A model split at its spectrogram.

    Attributes
    ----------
    spectrogram : callable
        ``(n_windows, n_samples)`` float32 windows -> ``(n_windows, n_bins, n_frames)``.
    proba : callable
        ``(batch, n_bins, n_frames)`` -> ``(batch, n_labels)`` calibrated probabilities
        (differentiable).
    frame_rate_hz : float
        Spectrogram frames per second.
    kind : str
        ``"musicnn log-mel"``, ``"log-mel"`` or ``"mfcc"``.
    f_max_hz : float
        Top of the (mel) frequency axis.
    """

    spectrogram: Callable[[Tensor], Tensor]
    proba: Callable[[Tensor], Tensor]
    frame_rate_hz: float
    kind: str
    f_max_hz: float


def spectrogram_view(model: Any, card: Any) -> SpectrogramView:
    """The :class:`SpectrogramView` of a loaded PyTorch model.

    Raises
    ------
    InvalidParameterError
        The model has no spectrogram front end (raw waveform, table features, ensembles,
        or an ONNX Runtime model: load with PyTorch).
    """
    from genrekit.models.heads import MusicnnHeadClassifier
    from genrekit.models.musicnn import HOP_LENGTH, SAMPLE_RATE
    from genrekit.models.neural import TorchWaveformClassifier

    if isinstance(model, MusicnnHeadClassifier):
        embedder, head = model.embedder, model.head
        model.eval()

        def musicnn_spec(windows: Tensor) -> Tensor:
            with torch.no_grad():
                return embedder.patches(windows).transpose(1, 2).contiguous()  # (n, 96, 187)

        genre_backbones = [(name, bb) for name, bb in embedder.backbones.items() if name not in embedder.tag_only]

        def musicnn_proba(spec: Tensor) -> Tensor:
            patches = spec.transpose(1, 2)
            blocks = []
            for _, backbone in genre_backbones:  # backbones run for their tags only are skipped
                out = backbone.embed(patches)
                blocks.extend(out[e] for e in embedder.embeddings)
            return head.predict_proba(torch.cat(blocks, dim=1))

        return SpectrogramView(musicnn_spec, musicnn_proba, SAMPLE_RATE / HOP_LENGTH, "musicnn log-mel", SAMPLE_RATE / 2)
    if isinstance(model, TorchWaveformClassifier):
        kind = str(card.features.get("kind", ""))
        if kind not in ("logmel", "mfcc"):
            raise InvalidParameterError(f"a {card.model_type} model reads {kind or 'no'} features, not a spectrogram: no saliency map")
        net, temperature = model.net.eval(), model.temperature
        mel = card.features if kind == "logmel" else card.features.get("mel", {})
        hop = int(mel.get("hop_length", 512))
        sr = int(card.sample_rate)

        def net_spec(windows: Tensor) -> Tensor:
            with torch.no_grad():
                return net.features(windows)

        def net_proba(spec: Tensor) -> Tensor:
            return torch.softmax(net.classify(spec) / temperature, dim=-1)

        f_max = float(mel.get("f_max") or sr / 2)
        return SpectrogramView(net_spec, net_proba, sr / hop, "log-mel" if kind == "logmel" else "mfcc", f_max)
    raise InvalidParameterError(f"no spectrogram saliency for a {getattr(card, 'model_type', type(model).__name__)} model")
