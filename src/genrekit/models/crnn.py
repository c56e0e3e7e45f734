"""Convolutional recurrent network: conv blocks over a log-mel (or MFCC), then a GRU over time.

``(batch, n_bins, frames)`` -> per-bin batch norm -> 2D conv blocks pooling frequency
(and time by ``time_pool``) -> mean over the remaining frequency rows -> GRU over the
frames -> mean and max of its outputs over time -> logits. Registered as model type
and family ``crnn`` (:func:`~genrekit.models.families.register_family`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genrekit.errors import InvalidParameterError
from genrekit.models.cnn import LOGMEL_FEATURES, LOGMEL_PRESET, conv2d_block
from genrekit.models.families import register_family
from genrekit.models.neural import (
    ConfigMixin,
    WaveformNet,
    build_spectrogram_net,
    check_channels,
    check_dropout,
    load_spectrogram_net,
    spectrogram_family,
)
from genrekit.models.loaders import register_model_type


@dataclass(frozen=True)
class CrnnConfig(ConfigMixin):
    """Architecture of :class:`CrnnBody`.

    Attributes
    ----------
    n_channels : tuple of int
        Channels of each 3x3 conv block.
    freq_pool : int
        Frequency pooling after each block (while at least ``freq_pool`` rows remain).
    time_pool : int
        Time pooling after each block.
    hidden_size : int
        GRU units (per direction).
    n_layers : int
    bidirectional : bool
    dropout : float in [0, 1)
    """

    n_channels: tuple[int, ...] = (16, 32, 64)
    freq_pool: int = 4
    time_pool: int = 2
    hidden_size: int = 64
    n_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.3

    def __post_init__(self) -> None:
        check_channels(self.n_channels)
        if min(self.freq_pool, self.time_pool, self.hidden_size, self.n_layers) < 1:
            raise InvalidParameterError("freq_pool, time_pool, hidden_size and n_layers must be >= 1")
        check_dropout(self.dropout)


class CrnnBody(nn.Module):
    """``(batch, n_bins, frames) -> (batch, n_labels)`` logits.

    Parameters
    ----------
    config : CrnnConfig
    n_bins : int
        Feature rows.
    n_labels : int
    """

    def __init__(self, config: CrnnConfig, n_bins: int, n_labels: int) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm1d(n_bins)
        blocks = []
        in_channels, rows = 1, n_bins
        for out_channels in config.n_channels:
            f = config.freq_pool if rows >= config.freq_pool else 1
            blocks.append(conv2d_block(in_channels, out_channels, 3, (f, config.time_pool)))
            in_channels, rows = out_channels, -(-rows // f)
        self.blocks = nn.Sequential(*blocks)
        self.gru = nn.GRU(
            in_channels,
            config.hidden_size,
            num_layers=config.n_layers,
            batch_first=True,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.n_layers > 1 else 0.0,
        )
        n_out = config.hidden_size * (2 if config.bidirectional else 1)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(2 * n_out, n_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.input_norm(features).unsqueeze(1))  # (batch, channels, rows, frames)
        sequence = x.mean(dim=2).transpose(1, 2)  # (batch, frames, channels)
        outputs, _ = self.gru(sequence)
        pooled = torch.cat([outputs.mean(dim=1), outputs.amax(dim=1)], dim=-1)
        return self.head(self.dropout(pooled))


def build_crnn(
    config: CrnnConfig, *, frontend: str, feature_params: Mapping[str, Any] | None, n_labels: int, sample_rate: int
) -> tuple[WaveformNet, dict[str, Any]]:
    """A CRNN behind a ``"logmel"`` or ``"mfcc"`` front end; returns the net and its feature parameters."""
    return build_spectrogram_net(
        "crnn", CrnnBody, config, frontend=frontend, feature_params=feature_params, n_labels=n_labels, sample_rate=sample_rate
    )


@register_model_type("crnn")
def _load_crnn(card: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    return load_spectrogram_net(card, tensors, CrnnConfig, build_crnn)


register_family(spectrogram_family("crnn", CrnnConfig, build_crnn, "logmel", LOGMEL_FEATURES, preset=LOGMEL_PRESET))
