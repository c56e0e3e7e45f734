"""Ensembles of bundled models: model type ``"ensemble"``.

An :class:`EnsembleClassifier` averages the probabilities of its members over the union of
their labels (a label a member does not know gets probability 0 from it), weighted. It
runs at the highest member sample rate and the longest member window; each member gets
the window resampled to its own rate, and a member with a shorter window scores the
window's non-overlapping sub-windows and averages them.

The ensemble bundle stays one self-contained directory: every member's tensors are stored
in the ensemble's ``model.safetensors`` under ``member.<i>.`` and every member's card in
the ensemble card's ``config["members"]``, so loading reads nothing else.

The ``ensemble`` family (trainer ``ensemble``) takes an :class:`EnsembleTrainConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from genrekit.bundle.card import ModelCard
from genrekit.errors import BundleError, InvalidParameterError
from genrekit.models.base import WaveformClassifier
from genrekit.models.families import ENSEMBLE, Family, no_spectrogram, register_family
from genrekit.models.neural import ConfigMixin, model_schema
from genrekit.models.loaders import build_model, register_model_type

MODEL_TYPE = "ensemble"


@dataclass(frozen=True)
class EnsembleTrainConfig(ConfigMixin):
    """``model`` section of the ensemble family.

    Attributes
    ----------
    members : tuple of str
        Existing bundle directories to combine.
    families : tuple of str
        Families to train now on the same data and split (into ``<out>/members/<family>``),
        each with its preset and the run's seed, device, split and genres.
    weights : tuple of float
        One per member (``members`` first, then ``families``); empty: equal weights.
    """

    members: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()


class EnsembleClassifier:
    """Weighted mean of member probabilities over the union of their labels.

    Parameters
    ----------
    members : sequence of WaveformClassifier
        At least one.
    weights : sequence of float, optional
        Non-negative, one per member, not all 0; default equal. They are normalised.
    labels : sequence of str, optional
        Output label order; default the sorted union of the members' labels. Must cover
        that union.
    """

    def __init__(
        self,
        members: Sequence[WaveformClassifier],
        *,
        weights: Sequence[float] | None = None,
        labels: Sequence[str] | None = None,
    ) -> None:
        if not members:
            raise InvalidParameterError("an ensemble needs at least one member")
        union = sorted({label for member in members for label in member.labels})
        self.labels = list(labels) if labels is not None else union
        if set(self.labels) != set(union) or len(set(self.labels)) != len(self.labels):
            raise InvalidParameterError(f"ensemble labels {self.labels} must list each member label exactly once")
        w = np.ones(len(members)) if weights is None else np.asarray(list(weights), dtype=np.float64)
        if w.shape != (len(members),) or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise InvalidParameterError(
                f"weights must be {len(members)} non-negative numbers, not all 0; got {weights}"
            )
        self.members = list(members)
        self.weights = w / w.sum()
        self.sample_rate = int(max(member.sample_rate for member in members))
        self.window_s = float(max(member.window_s for member in members))
        index = {label: i for i, label in enumerate(self.labels)}
        self._columns = [np.asarray([index[label] for label in member.labels]) for member in members]

    def _member_windows(self, member: WaveformClassifier, windows: np.ndarray) -> tuple[np.ndarray, int]:
        from genrekit.audio import resample
        from genrekit.audio.windows import slice_windows

        x = (
            windows
            if member.sample_rate == self.sample_rate
            else resample(windows, self.sample_rate, member.sample_rate)
        )
        length = int(round(member.window_s * member.sample_rate))
        if x.shape[1] <= length:
            return np.ascontiguousarray(x, dtype=np.float32), 1
        pieces = np.stack([slice_windows(row, window_length=length, hop_length=length)[2] for row in x])
        return np.ascontiguousarray(pieces.reshape(-1, length)), pieces.shape[1]

    def member_probabilities(self, windows: np.ndarray) -> list[np.ndarray]:
        """Each member's probabilities on the windows, mapped to :attr:`labels`: a list of ``(n_windows, n_labels)``."""
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 2:
            raise InvalidParameterError(f"windows must have shape (n_windows, n_samples), got {windows.shape}")
        out = []
        for member, columns in zip(self.members, self._columns, strict=True):
            x, n_pieces = self._member_windows(member, windows)
            proba = np.asarray(member.predict_proba_windows(x), dtype=np.float64)
            proba = proba.reshape(windows.shape[0], n_pieces, -1).mean(axis=1)
            mapped = np.zeros((windows.shape[0], len(self.labels)))
            mapped[:, columns] = proba
            out.append(mapped)
        return out

    def predict_proba_windows(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities ``(n_windows, n_labels)`` float32 of mono windows ``(n_windows, n_samples)``
        at :attr:`sample_rate` Hz."""
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 2:
            raise InvalidParameterError(f"windows must have shape (n_windows, n_samples), got {windows.shape}")
        if windows.shape[0] == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        total = sum(w * p for w, p in zip(self.weights, self.member_probabilities(windows), strict=True))
        total = total / total.sum(axis=1, keepdims=True)
        return total.astype(np.float32)


def ensemble_bundle_parts(
    members: Sequence[tuple[ModelCard, Mapping[str, torch.Tensor]]],
    *,
    weights: Sequence[float] | None = None,
) -> tuple[dict[str, Any], dict[str, torch.Tensor], EnsembleClassifier]:
    """The card ``config`` section, the tensors and the model of an ensemble of bundles.

    Parameters
    ----------
    members : sequence of (ModelCard, dict of str to Tensor)
        Each member as :func:`genrekit.bundle.load_bundle` returns it.
    weights : sequence of float, optional

    Returns
    -------
    (dict, dict, EnsembleClassifier)
        ``config`` (member cards and weights), the prefixed tensors, and the model (whose
        ``labels``, ``sample_rate`` and ``window_s`` go into the card).
    """
    models = [build_model(card, dict(tensors)) for card, tensors in members]
    model = EnsembleClassifier(models, weights=weights)
    tensors = {
        f"member.{i}.{name}": value
        for i, (_, member_tensors) in enumerate(members)
        for name, value in member_tensors.items()
    }
    config = {
        "members": [card.to_dict() for card, _ in members],
        "weights": [float(w) for w in model.weights],
    }
    return config, tensors, model


@register_model_type(MODEL_TYPE)
def _load_ensemble(card: ModelCard, tensors: Mapping[str, torch.Tensor]) -> EnsembleClassifier:
    member_cards = card.config.get("members")
    if not member_cards:
        raise BundleError("ensemble card lists no members")
    members = []
    for i, data in enumerate(member_cards):
        prefix = f"member.{i}."
        member_tensors = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        members.append(build_model(ModelCard.from_dict(data), member_tensors))
    model = EnsembleClassifier(members, weights=card.config.get("weights"), labels=card.labels)
    if model.sample_rate != int(card.sample_rate) or abs(model.window_s - float(card.window_s)) > 1e-9:
        raise BundleError(
            f"ensemble card says {card.sample_rate} Hz / {card.window_s} s, its members give "
            f"{model.sample_rate} Hz / {model.window_s} s"
        )
    return model


register_family(Family(MODEL_TYPE, ENSEMBLE, model_schema(EnsembleTrainConfig), no_spectrogram, f"{MODEL_TYPE}.toml"))
