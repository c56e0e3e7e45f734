"""``nn.Module`` wrappers of the feature transforms, for batched use on CPU or GPU.

Each module builds its constants (Hann window, mel filter bank, DCT matrix) once from its
config and keeps them as non-persistent buffers (``persistent=False``: they are rebuilt
from the config, never saved in a state dict); ``module.to(device)`` moves them.
``forward`` makes one call to :mod:`genrekit.features.functional`.
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn

from genrekit.errors import InvalidParameterError
from genrekit.features import functional as F
from genrekit.features.config import LogMelConfig, MfccConfig, MusicnnInputConfig


_Config = TypeVar("_Config", LogMelConfig, MfccConfig, MusicnnInputConfig)


def _config(cfg: _Config | None, cls: type[_Config], article: str = "a") -> _Config:
    """``cfg``, or ``cls()`` when it is None; anything but a ``cls`` raises InvalidParameterError."""
    cfg = cls() if cfg is None else cfg
    if not isinstance(cfg, cls):
        raise InvalidParameterError(f"cfg must be {article} {cls.__name__}, got {type(cfg).__name__}")
    return cfg


class _MelModule(nn.Module):
    """Holds the Hann window and the mel filter bank of ``mel`` as non-persistent buffers."""

    window: torch.Tensor
    mel_basis: torch.Tensor

    def __init__(self, mel: LogMelConfig) -> None:
        super().__init__()
        self.register_buffer("window", F.hann_window(mel.n_fft), persistent=False)
        basis = F.mel_filterbank(
            sr=mel.sr, n_fft=mel.n_fft, n_mels=mel.n_mels, f_min_hz=mel.f_min_hz, f_max_hz=mel.f_max_hz,
            htk=mel.htk, norm=mel.norm,
        )  # fmt: skip
        self.register_buffer("mel_basis", basis, persistent=False)


class LogMel(_MelModule):
    """Log-mel spectrogram in dB: ``(..., samples) -> (..., n_mels, frames)``.

    Parameters
    ----------
    cfg : LogMelConfig, optional
        Defaults to ``LogMelConfig()`` (22050 Hz, n_fft 2048, hop 512, 128 mels, ref 1.0).
    """

    def __init__(self, cfg: LogMelConfig | None = None) -> None:
        cfg = _config(cfg, LogMelConfig)
        super().__init__(cfg)
        self.cfg = cfg

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveform(s) at ``cfg.sr`` ``(..., samples)`` float32/64 -> dB ``(..., n_mels, frames)``."""
        return F.log_mel_spectrogram(wave, **self.cfg.to_dict(), mel_basis=self.mel_basis, window=self.window)


class MFCC(_MelModule):
    """MFCCs: ``(..., samples) -> (..., n_mfcc, frames)``.

    Parameters
    ----------
    cfg : MfccConfig, optional
        Defaults to ``MfccConfig()`` (20 coefficients of the default log-mel, no ``top_db``).
    """

    dct: torch.Tensor

    def __init__(self, cfg: MfccConfig | None = None) -> None:
        cfg = _config(cfg, MfccConfig, "an")
        super().__init__(cfg.mel)
        self.cfg = cfg
        self.register_buffer("dct", F.dct_matrix(cfg.n_mfcc, cfg.mel.n_mels), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveform(s) at ``cfg.mel.sr`` ``(..., samples)`` -> ``(..., n_mfcc, frames)``."""
        return F.mfcc(
            wave, n_mfcc=self.cfg.n_mfcc, dct=self.dct, **self.cfg.mel.to_dict(), mel_basis=self.mel_basis,
            window=self.window,
        )  # fmt: skip


class MusicnnInput(_MelModule):
    """musicnn's input: 16 kHz waveform(s) ``(..., samples)`` -> ``log10(1 + 10000 mel)`` ``(..., 96, frames)``.

    Parameters
    ----------
    cfg : MusicnnInputConfig, optional
        Defaults reproduce musicnn 0.1.0 (reflect padding, float16 rounding, 187-frame patches).
    """

    def __init__(self, cfg: MusicnnInputConfig | None = None) -> None:
        cfg = _config(cfg, MusicnnInputConfig)
        super().__init__(LogMelConfig(sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length, n_mels=cfg.n_mels))
        self.cfg = cfg

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """16 kHz waveform(s) ``(..., samples)`` -> ``(..., 96, frames)``, frequency first."""
        return F.musicnn_input(
            wave, pad_mode=self.cfg.pad_mode, float16_rounding=self.cfg.float16_rounding,
            mel_basis=self.mel_basis, window=self.window,
        )  # fmt: skip

    def patches(self, wave: torch.Tensor) -> torch.Tensor:
        """16 kHz waveform(s) ``(..., samples)`` -> musicnn patches ``(..., n_patches, n_frames, 96)``, time first."""
        return F.musicnn_patches(self.forward(wave), n_frames=self.cfg.n_frames, hop_frames=self.cfg.hop_frames)
