"""Convolutional genre classifiers: a 1D CNN on the raw waveform, a 2D CNN on MFCC or log-mel.

Both are small enough to train on a CPU on a few hundred clips in minutes. Each body
takes features and returns logits; :func:`build_cnn1d` / :func:`build_cnn2d` put the
feature front end in front (a :class:`~genrekit.models.neural.WaveformNet`), and the
bundle loaders registered here rebuild them from a model card:

* ``cnn1d``: ``(batch, n_samples)`` -> strided conv -> conv blocks -> mean+max pooling;
* ``cnn2d_mfcc`` / ``cnn2d_logmel``: ``(batch, n_bins, frames)`` -> per-bin batch norm ->
  VGG-style 3x3 conv blocks (pooling only while the map is large enough) -> mean+max
  pooling over frequency and time.

The three families (their presets, feature defaults and how a training run builds them)
are declared here too (:func:`~genrekit.models.families.register_family`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genrekit.errors import InvalidParameterError
from genrekit.models.families import register_family
from genrekit.models.neural import (
    ConfigMixin,
    NetParts,
    NetRequest,
    WaveformNet,
    build_spectrogram_net,
    check_channels,
    check_dropout,
    config_from_dict,
    load_net_classifier,
    load_spectrogram_net,
    net_family,
    spectrogram_family,
)
from genrekit.models.loaders import register_model_type

# Feature defaults of the spectrogram families (the config's ``features`` table updates them).
LOGMEL_FEATURES = {"n_fft": 1024, "hop_length": 512, "n_mels": 64}
MFCC_FEATURES = {"n_mfcc": 20, "mel": LOGMEL_FEATURES}
# Training presets: SpecAugment and mixup for the spectrogram families, shifts for the waveform one.
LOGMEL_PRESET = {"augment": {"freq_mask_bins": 8, "time_mask_frames": 12, "mixup_alpha": 0.2}}
MFCC_PRESET = {"augment": {"freq_mask_bins": 3, "time_mask_frames": 12, "mixup_alpha": 0.2}}
WAVEFORM_PRESET = {"augment": {"time_shift_s": 0.1, "pitch_shift_semitones": 1.0}}


@dataclass(frozen=True)
class Cnn1dConfig(ConfigMixin):
    """Architecture of :class:`Cnn1dBody`.

    Attributes
    ----------
    n_channels : tuple of int
        Channels of each conv block (the first is the strided front conv).
    first_kernel : int
        Samples seen by the front conv (64 = 2.9 ms at 22.05 kHz).
    first_stride : int
        Stride (samples) of the front conv.
    kernel_size : int
        Kernel of the later blocks (frames).
    pool : int
        Max-pooling factor after each block.
    dropout : float in [0, 1)
    """

    n_channels: tuple[int, ...] = (16, 32, 64, 128)
    first_kernel: int = 64
    first_stride: int = 16
    kernel_size: int = 9
    pool: int = 4
    dropout: float = 0.3

    def __post_init__(self) -> None:
        check_channels(self.n_channels)
        if min(self.first_kernel, self.first_stride, self.kernel_size, self.pool) < 1:
            raise InvalidParameterError("first_kernel, first_stride, kernel_size and pool must be >= 1")
        check_dropout(self.dropout)


class Cnn1dBody(nn.Module):
    """Raw-waveform CNN: ``(batch, n_samples) -> (batch, n_labels)`` logits."""

    def __init__(self, config: Cnn1dConfig, n_labels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 1
        for i, out_channels in enumerate(config.n_channels):
            if i == 0:
                conv = nn.Conv1d(1, out_channels, config.first_kernel, stride=config.first_stride, bias=False)
            else:
                conv = nn.Conv1d(
                    in_channels, out_channels, config.kernel_size, padding=config.kernel_size // 2, bias=False
                )
            layers += [
                conv,
                nn.BatchNorm1d(out_channels),
                nn.ReLU(inplace=True),
                nn.MaxPool1d(config.pool, ceil_mode=True),
            ]
            in_channels = out_channels
        self.input_norm = nn.BatchNorm1d(1)
        self.blocks = nn.Sequential(*layers)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(2 * in_channels, n_labels)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.input_norm(wave.unsqueeze(1)))
        pooled = torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=-1)
        return self.head(self.dropout(pooled))


@dataclass(frozen=True)
class Cnn2dConfig(ConfigMixin):
    """Architecture of :class:`Cnn2dBody`.

    Attributes
    ----------
    n_channels : tuple of int
        Channels of each 3x3 conv block.
    kernel_size : int
        Square kernel (bins x frames).
    pool : int
        Max pooling after each block, on each axis still longer than ``pool``.
    dropout : float in [0, 1)
    """

    n_channels: tuple[int, ...] = (16, 32, 64, 64)
    kernel_size: int = 3
    pool: int = 2
    dropout: float = 0.3

    def __post_init__(self) -> None:
        check_channels(self.n_channels)
        if self.kernel_size < 1 or self.pool < 1:
            raise InvalidParameterError("kernel_size and pool must be >= 1")
        check_dropout(self.dropout)


def conv2d_block(in_channels: int, out_channels: int, kernel_size: int, pool: tuple[int, int]) -> nn.Sequential:
    """Conv (same padding) -> batch norm -> ReLU -> max pool ``pool`` (freq, time)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]
    if pool != (1, 1):
        layers.append(nn.MaxPool2d(pool, ceil_mode=True))
    return nn.Sequential(*layers)


def block_pools(n_bins: int, n_blocks: int, pool: int) -> list[tuple[int, int]]:
    """Frequency/time pooling per block: ``pool`` on frequency while it stays >= 2 bins."""
    pools = []
    size = n_bins
    for _ in range(n_blocks):
        f = pool if size >= 2 * pool else 1
        size = -(-size // f)
        pools.append((f, pool))
    return pools


class Cnn2dBody(nn.Module):
    """Spectrogram CNN: ``(batch, n_bins, frames) -> (batch, n_labels)`` logits.

    Parameters
    ----------
    config : Cnn2dConfig
    n_bins : int
        Feature rows (mel bands or MFCCs).
    n_labels : int
    """

    def __init__(self, config: Cnn2dConfig, n_bins: int, n_labels: int) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm1d(n_bins)
        blocks = []
        in_channels = 1
        for out_channels, pool in zip(
            config.n_channels, block_pools(n_bins, len(config.n_channels), config.pool), strict=True
        ):
            blocks.append(conv2d_block(in_channels, out_channels, config.kernel_size, pool))
            in_channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(2 * in_channels, n_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.input_norm(features).unsqueeze(1))
        flat = x.flatten(2)
        pooled = torch.cat([flat.mean(dim=-1), flat.amax(dim=-1)], dim=-1)
        return self.head(self.dropout(pooled))


def build_cnn1d(config: Cnn1dConfig, *, n_labels: int) -> WaveformNet:
    """A 1D CNN on raw waveforms (no front end)."""
    return WaveformNet(nn.Identity(), Cnn1dBody(config, n_labels))


def build_cnn2d(
    config: Cnn2dConfig, *, frontend: str, feature_params: Mapping[str, Any] | None, n_labels: int, sample_rate: int
) -> tuple[WaveformNet, dict[str, Any]]:
    """A 2D CNN behind a ``"logmel"`` or ``"mfcc"`` front end.

    Returns
    -------
    (WaveformNet, dict)
        The net and its full feature parameters (for the card).
    """
    return build_spectrogram_net(
        "cnn2d", Cnn2dBody, config, frontend=frontend, feature_params=feature_params, n_labels=n_labels, sample_rate=sample_rate
    )


@register_model_type("cnn1d")
def _load_cnn1d(card: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    config = Cnn1dConfig.from_dict(card.config.get("architecture", {}))
    return load_net_classifier(card, tensors, lambda c: build_cnn1d(config, n_labels=len(c.labels)))


@register_model_type("cnn2d_mfcc")
@register_model_type("cnn2d_logmel")
def _load_cnn2d(card: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    return load_spectrogram_net(card, tensors, Cnn2dConfig, build_cnn2d)


def _cnn1d_parts(request: NetRequest) -> NetParts:
    if request.features:
        raise InvalidParameterError("cnn1d works on the raw waveform and takes no feature parameters")
    arch = config_from_dict(Cnn1dConfig, request.model, where="model")
    return NetParts(build_cnn1d(arch, n_labels=request.n_labels), {"kind": "waveform"}, {"architecture": arch.to_dict()})


register_family(net_family("cnn1d", Cnn1dConfig, _cnn1d_parts, preset=WAVEFORM_PRESET))
register_family(spectrogram_family("cnn2d_mfcc", Cnn2dConfig, build_cnn2d, "mfcc", MFCC_FEATURES, preset=MFCC_PRESET))
register_family(spectrogram_family("cnn2d_logmel", Cnn2dConfig, build_cnn2d, "logmel", LOGMEL_FEATURES, preset=LOGMEL_PRESET))
