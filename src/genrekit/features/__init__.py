"""Audio features: pure torch transforms (``functional``), their ``nn.Module`` wrappers
(``modules``), frozen configs (``config``), and the GTZAN table features (``table``).

Layout is ``(..., freq, time)`` with any leading batch shape; waveforms are ``(..., samples)``.
"""

from __future__ import annotations

from genrekit.features.config import LogMelConfig, MfccConfig, MusicnnInputConfig
from genrekit.features.functional import (
    MUSICNN_HOP_LENGTH,
    MUSICNN_N_FFT,
    MUSICNN_N_FRAMES,
    MUSICNN_N_MELS,
    MUSICNN_SR,
    dct_matrix,
    frame_windows,
    log_mel_spectrogram,
    mel_filterbank,
    mel_spectrogram,
    mfcc,
    musicnn_input,
    musicnn_patches,
    power_to_db,
    spectrogram,
    window_starts,
)
from genrekit.features.modules import MFCC, LogMel, MusicnnInput
from genrekit.features.table import TABLE_FEATURE_COLUMNS, TABLE_SR, table_features

__all__ = [
    "MFCC",
    "MUSICNN_HOP_LENGTH",
    "MUSICNN_N_FFT",
    "MUSICNN_N_FRAMES",
    "MUSICNN_N_MELS",
    "MUSICNN_SR",
    "TABLE_FEATURE_COLUMNS",
    "TABLE_SR",
    "LogMel",
    "LogMelConfig",
    "MfccConfig",
    "MusicnnInput",
    "MusicnnInputConfig",
    "dct_matrix",
    "frame_windows",
    "log_mel_spectrogram",
    "mel_filterbank",
    "mel_spectrogram",
    "mfcc",
    "musicnn_input",
    "musicnn_patches",
    "power_to_db",
    "spectrogram",
    "table_features",
    "window_starts",
]
