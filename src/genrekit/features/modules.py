"""``nn.Module`` wrappers of the feature transforms, for batched use on CPU or GPU.

Each module builds its constants (Hann window, mel filter bank, DCT matrix) once from its
config and keeps them as non-persistent buffers (``persistent=False``: they are rebuilt
from the config, never saved in a state dict); ``module.to(device)`` moves them.
``forward`` makes one call to :mod:`genrekit.features.functional`.
"""

from __future__ import annotations

import torch
from torch import nn

from genrekit.errors import InvalidParameterError
from genrekit.features import functional as F
from genrekit.features.config import LogMelConfig, MfccConfig, MusicnnInputConfig


def _mel_buffers(module: nn.Module, cfg: LogMelConfig) -> None:
    module.register_buffer("window", F.hann_window(cfg.n_fft), persistent=False)
    basis = F.mel_filterbank(
        sr=cfg.sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels, f_min_hz=cfg.f_min_hz, f_max_hz=cfg.f_max_hz,
        htk=cfg.htk, norm=cfg.norm,
    )  # fmt: skip
    module.register_buffer("mel_basis", basis, persistent=False)


class LogMel(nn.Module):
    """Log-mel spectrogram in dB: ``(..., samples) -> (..., n_mels, frames)``.

    Parameters
    ----------
    cfg : LogMelConfig, optional
        Defaults to ``LogMelConfig()`` (22050 Hz, n_fft 2048, hop 512, 128 mels, ref 1.0).
    """

    window: torch.Tensor
    mel_basis: torch.Tensor

    def __init__(self, cfg: LogMelConfig | None = None) -> None:
        super().__init__()
        self.cfg = LogMelConfig() if cfg is None else cfg
        if not isinstance(self.cfg, LogMelConfig):
            raise InvalidParameterError(f"cfg must be a LogMelConfig, got {type(self.cfg).__name__}")
        _mel_buffers(self, self.cfg)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveform(s) at ``cfg.sr`` ``(..., samples)`` float32/64 -> dB ``(..., n_mels, frames)``."""
        c = self.cfg
        return F.log_mel_spectrogram(
            wave, sr=c.sr, n_fft=c.n_fft, hop_length=c.hop_length, n_mels=c.n_mels, f_min_hz=c.f_min_hz,
            f_max_hz=c.f_max_hz, power=c.power, ref=c.ref, amin=c.amin, top_db=c.top_db,
            pad_mode=c.pad_mode, htk=c.htk, norm=c.norm, mel_basis=self.mel_basis, window=self.window,
        )  # fmt: skip


class MFCC(nn.Module):
    """MFCCs: ``(..., samples) -> (..., n_mfcc, frames)``.

    Parameters
    ----------
    cfg : MfccConfig, optional
        Defaults to ``MfccConfig()`` (20 coefficients of the default log-mel, no ``top_db``).
    """

    window: torch.Tensor
    mel_basis: torch.Tensor
    dct: torch.Tensor

    def __init__(self, cfg: MfccConfig | None = None) -> None:
        super().__init__()
        self.cfg = MfccConfig() if cfg is None else cfg
        if not isinstance(self.cfg, MfccConfig):
            raise InvalidParameterError(f"cfg must be an MfccConfig, got {type(self.cfg).__name__}")
        _mel_buffers(self, self.cfg.mel)
        self.register_buffer("dct", F.dct_matrix(self.cfg.n_mfcc, self.cfg.mel.n_mels), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveform(s) at ``cfg.mel.sr`` ``(..., samples)`` -> ``(..., n_mfcc, frames)``."""
        c = self.cfg.mel
        return F.mfcc(
            wave, sr=c.sr, n_mfcc=self.cfg.n_mfcc, n_fft=c.n_fft, hop_length=c.hop_length, n_mels=c.n_mels,
            f_min_hz=c.f_min_hz, f_max_hz=c.f_max_hz, power=c.power, ref=c.ref, amin=c.amin,
            top_db=c.top_db, pad_mode=c.pad_mode, htk=c.htk, norm=c.norm, mel_basis=self.mel_basis,
            window=self.window, dct=self.dct,
        )  # fmt: skip


class MusicnnInput(nn.Module):
    """musicnn's input: 16 kHz waveform(s) ``(..., samples)`` -> ``log10(1 + 10000 mel)`` ``(..., 96, frames)``.

    Parameters
    ----------
    cfg : MusicnnInputConfig, optional
        Defaults reproduce musicnn 0.1.0 (reflect padding, float16 rounding, 187-frame patches).
    """

    window: torch.Tensor
    mel_basis: torch.Tensor

    def __init__(self, cfg: MusicnnInputConfig | None = None) -> None:
        super().__init__()
        self.cfg = MusicnnInputConfig() if cfg is None else cfg
        if not isinstance(self.cfg, MusicnnInputConfig):
            raise InvalidParameterError(f"cfg must be a MusicnnInputConfig, got {type(self.cfg).__name__}")
        c = self.cfg
        _mel_buffers(self, LogMelConfig(sr=c.sr, n_fft=c.n_fft, hop_length=c.hop_length, n_mels=c.n_mels))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """16 kHz waveform(s) ``(..., samples)`` -> ``(..., 96, frames)``, frequency first."""
        return F.musicnn_input(
            wave, pad_mode=self.cfg.pad_mode, float16_rounding=self.cfg.float16_rounding,
            mel_basis=self.mel_basis, window=self.window,
        )  # fmt: skip

    def patches(self, wave: torch.Tensor) -> torch.Tensor:
        """16 kHz waveform(s) ``(..., samples)`` -> musicnn patches ``(..., n_patches, n_frames, 96)``, time first."""
        return F.musicnn_patches(self.forward(wave), n_frames=self.cfg.n_frames, hop_frames=self.cfg.hop_frames)
