"""Each model family seen as ``waveform windows -> spectrogram -> probabilities``.

Saliency is computed on the spectrogram the model itself reads. Each family declares how
its model splits there (its ``explainer``, :class:`genrekit.models.families.Family`): the
musicnn heads at musicnn's ``log10(1 + 10000 mel)`` patches, the CNN and CRNN families at
their log-mel (or MFCC) front end; raw-waveform models (``cnn1d``), table models and
ensembles have no spectrogram.
"""

from __future__ import annotations

from typing import Any

from genrekit.models.families import FAMILIES, SpectrogramView, get_family, no_spectrogram


def spectrogram_view(model: Any, card: Any) -> SpectrogramView:
    """The :class:`~genrekit.models.families.SpectrogramView` of a loaded PyTorch model,
    from the explainer its family (``card.model_type``) declares.

    Raises
    ------
    InvalidParameterError
        The model has no spectrogram front end (raw waveform, table features, ensembles,
        or an ONNX Runtime model: load with PyTorch).
    """
    model_type = getattr(card, "model_type", None)
    if model_type not in FAMILIES:
        return no_spectrogram(model, card)
    return get_family(model_type).explainer(model, card)
