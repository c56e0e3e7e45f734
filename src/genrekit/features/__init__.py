"""Audio features: torch-free NumPy transforms for serving (``spectral``: mel scale, musicnn
input), pure torch transforms (``functional``), their ``nn.Module`` wrappers (``modules``),
frozen configs (``config``), and the GTZAN table features (``table``).

Layout is ``(..., freq, time)`` with any leading batch shape; waveforms are ``(..., samples)``.
Names are imported lazily, so ``genrekit.features.spectral`` (the serving path) never
imports torch.
"""

from __future__ import annotations

from genrekit._lazy import lazy_exports

_EXPORTS = {
    "spectral": (
        "MUSICNN_HOP_LENGTH", "MUSICNN_N_FFT", "MUSICNN_N_FRAMES", "MUSICNN_N_MELS", "MUSICNN_SR",
        "mel_weights", "musicnn_input_np", "musicnn_window_patches",
    ),
    "config": ("LogMelConfig", "MfccConfig", "MusicnnInputConfig"),
    "functional": (
        "dct_matrix", "log_mel_spectrogram", "mel_filterbank", "mel_spectrogram", "mfcc",
        "musicnn_input", "musicnn_patches", "power_to_db", "spectrogram",
    ),
    "modules": ("MFCC", "LogMel", "MusicnnInput"),
    "table": ("TABLE_FEATURE_COLUMNS", "TABLE_SR", "table_features"),
}  # fmt: skip
__all__, __getattr__ = lazy_exports("genrekit.features", _EXPORTS)
