"""Multi-layer perceptron on table features or on pooled MFCC statistics.

Two inputs (``MlpConfig.input``):

* ``"mfcc_stats"``: the mean and standard deviation over time of each MFCC of the window
  (front end :class:`~genrekit.features.modules.MFCC` + pooling, inside the net), with a
  batch norm on the ``2 * n_mfcc`` inputs;
* ``"table"``: the 57 table features (:func:`genrekit.features.table.table_features`, or
  the Kaggle CSV), standardised with the training set's mean and standard deviation
  (buffers saved in the bundle). The model is then served through
  :class:`~genrekit.models.baselines.TableWaveformClassifier`.

Registered as model type and family ``mlp`` (:func:`~genrekit.models.families.register_family`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from genrekit.errors import InvalidParameterError
from genrekit.models.families import register_family
from genrekit.models.neural import (
    ConfigMixin,
    NetParts,
    NetRequest,
    WaveformNet,
    card_frontend,
    check_dropout,
    config_from_dict,
    deep_merge,
    load_net_classifier,
    make_frontend,
    net_family,
)
from genrekit.models.loaders import register_model_type

MFCC_STATS_FEATURES = {"n_mfcc": 20, "mel": {"n_fft": 2048, "hop_length": 512, "n_mels": 128}}  # feature defaults
PRESET = {"epochs": 60, "patience": 15, "augment": {"mixup_alpha": 0.2}}  # training defaults


@dataclass(frozen=True)
class MlpConfig(ConfigMixin):
    """Architecture of :class:`MlpBody`.

    Attributes
    ----------
    input : {"mfcc_stats", "table"}
    hidden_sizes : tuple of int
        Units of each hidden layer (ReLU, dropout).
    dropout : float in [0, 1)
    """

    input: Literal["mfcc_stats", "table"] = "mfcc_stats"
    hidden_sizes: tuple[int, ...] = (128, 64)
    dropout: float = 0.3

    def __post_init__(self) -> None:
        if any(h < 1 for h in self.hidden_sizes):
            raise InvalidParameterError(f"hidden_sizes must be positive, got {self.hidden_sizes}")
        check_dropout(self.dropout)


class Standardize(nn.Module):
    """``(x - mean) / std`` with fitted statistics (persistent buffers: they are learned).

    Parameters
    ----------
    n_features : int
    """

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def fit(self, x: torch.Tensor | np.ndarray) -> Standardize:
        """Set the statistics from training rows ``(n_rows, n_features)``; constant columns get std 1."""
        x = torch.as_tensor(np.asarray(x, dtype=np.float64))
        if x.ndim != 2 or x.shape[1] != self.mean.shape[0] or x.shape[0] == 0:
            raise InvalidParameterError(f"expected rows of {self.mean.shape[0]} features, got {tuple(x.shape)}")
        std = x.std(dim=0, unbiased=False)
        std[std < 1e-12] = 1.0
        self.mean.copy_(x.mean(dim=0).float())
        self.std.copy_(std.float())
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class MlpBody(nn.Module):
    """``(batch, n_inputs) -> (batch, n_labels)`` logits.

    Parameters
    ----------
    config : MlpConfig
    n_inputs : int
    n_labels : int
    """

    def __init__(self, config: MlpConfig, n_inputs: int, n_labels: int) -> None:
        super().__init__()
        self.input_norm: nn.Module = Standardize(n_inputs) if config.input == "table" else nn.BatchNorm1d(n_inputs)
        layers: list[nn.Module] = []
        width = n_inputs
        for hidden in config.hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True), nn.Dropout(config.dropout)]
            width = hidden
        layers.append(nn.Linear(width, n_labels))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.input_norm(x))


def build_mlp(
    config: MlpConfig,
    *,
    n_labels: int,
    sample_rate: int,
    feature_params: Mapping[str, Any] | None = None,
    n_table_features: int | None = None,
) -> tuple[WaveformNet, dict[str, Any]]:
    """An MLP with its front end: MFCC statistics, or identity on table rows.

    Parameters
    ----------
    config : MlpConfig
    n_labels : int
    sample_rate : int
        Hz.
    feature_params : mapping, optional
        :class:`~genrekit.features.config.MfccConfig` overrides (``mfcc_stats`` input).
    n_table_features : int, optional
        Number of table columns (``table`` input; required there).

    Returns
    -------
    (WaveformNet, dict)
        The net and its feature parameters (empty for table input).
    """
    if config.input == "table":
        if not n_table_features:
            raise InvalidParameterError("a table-input MLP needs n_table_features")
        return WaveformNet(nn.Identity(), MlpBody(config, n_table_features, n_labels)), {}
    module, params = make_frontend("mfcc_stats", feature_params, sample_rate=sample_rate)
    return WaveformNet(module, MlpBody(config, 2 * int(params["n_mfcc"]), n_labels)), params


@register_model_type("mlp")
def _load_mlp(card: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    config = MlpConfig.from_dict(card.config.get("architecture", {}))
    kind, params = card_frontend(card)
    if (kind == "table") != (config.input == "table"):
        raise InvalidParameterError(f"mlp card: features kind {kind!r} does not match input {config.input!r}")

    def build(c: Any) -> WaveformNet:
        if config.input == "table":
            net, _ = build_mlp(
                config, n_labels=len(c.labels), sample_rate=c.sample_rate, n_table_features=len(params["columns"])
            )
        else:
            net, _ = build_mlp(config, n_labels=len(c.labels), sample_rate=c.sample_rate, feature_params=params)
        return net

    return load_net_classifier(card, tensors, build)


def _mlp_parts(request: NetRequest) -> NetParts:
    """The MLP of a training run: on table rows when the data is the feature table or
    ``model.input`` is ``"table"``, else on MFCC statistics."""
    model_params = dict(request.model)
    if request.table_data:
        if model_params.get("input", "table") != "table":
            raise InvalidParameterError("the feature table only serves an MLP with model.input = 'table'")
        model_params["input"] = "table"
    arch = config_from_dict(MlpConfig, model_params, where="model")
    model_config = {"architecture": arch.to_dict()}
    if arch.input == "table":
        if request.features:
            raise InvalidParameterError("a table-input MLP takes no feature parameters")
        columns = list(request.table_columns)
        net, _ = build_mlp(arch, n_labels=request.n_labels, sample_rate=request.sample_rate, n_table_features=len(columns))
        return NetParts(net, {"kind": "table", "columns": columns, "sample_rate": request.sample_rate}, model_config, "table")
    net, params = build_mlp(
        arch,
        n_labels=request.n_labels,
        sample_rate=request.sample_rate,
        feature_params=deep_merge(MFCC_STATS_FEATURES, request.features),
    )
    return NetParts(net, {"kind": "mfcc_stats", **params}, model_config)


register_family(net_family("mlp", MlpConfig, _mlp_parts, preset=PRESET, reads_table=True))
