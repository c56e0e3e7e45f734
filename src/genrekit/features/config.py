"""Feature configurations: frozen dataclasses that save to and load from plain dicts.

Every field is written by ``to_dict`` (bundles describe their features fully), and
``from_dict`` rejects unknown keys and bad values with :class:`InvalidParameterError`.
Values are checked when a config is built, so an invalid config cannot exist.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Self

from genrekit.errors import InvalidParameterError
from genrekit.features.spectral import (
    MEL_NORMS,
    MUSICNN_HOP_LENGTH,
    MUSICNN_N_FFT,
    MUSICNN_N_FRAMES,
    MUSICNN_N_MELS,
    MUSICNN_SR,
    PAD_MODES,
    _check_choice,
)


def _int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _number(name: str, value: Any, *, minimum: float = 0.0, strict: bool = True, optional: bool = False) -> None:
    if value is None and optional:
        return
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or (value <= minimum if strict else value < minimum):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        alternative = " or None" if optional else ""
        raise InvalidParameterError(f"{name} must be a finite number {bound}{alternative}, got {value!r}")


def _check_keys(cls: type, data: Any) -> None:
    if not isinstance(data, dict):
        raise InvalidParameterError(f"{cls.__name__}.from_dict needs a dict, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidParameterError(f"unknown {cls.__name__} keys: {unknown}; allowed: {sorted(known)}")


class _DictConfig:
    """Save to and load from a plain dict (mixed into the frozen config dataclasses below)."""

    def to_dict(self) -> dict[str, Any]:
        """All fields, JSON-ready (a nested config as its own dict)."""
        return dataclasses.asdict(self)

    @classmethod
    def _field_values(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Constructor arguments from a checked :meth:`to_dict` output (nested configs rebuilt)."""
        return dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from :meth:`to_dict` output; unknown keys raise ``InvalidParameterError``."""
        _check_keys(cls, data)
        values = cls._field_values(data)
        try:
            return cls(**values)
        except TypeError as e:
            raise InvalidParameterError(f"invalid {cls.__name__}: {e}") from e


@dataclass(frozen=True)
class LogMelConfig(_DictConfig):
    """Parameters of a log-mel spectrogram in dB (see ``functional.log_mel_spectrogram``).

    Attributes
    ----------
    sr : int > 0
        Sample rate of the input waveform (Hz).
    n_fft : int > 0
        FFT size and Hann window length (samples).
    hop_length : int > 0
        Samples between frames.
    n_mels : int > 0
        Mel bands.
    f_min_hz, f_max_hz : float
        Band limits (Hz); ``f_max_hz=None`` means ``sr / 2``.
    power : float > 0
        2 for a power spectrogram, 1 for magnitude.
    top_db : float >= 0 or None
        Floor relative to each item's peak; ``None`` (default) keeps features independent
        of their surroundings.
    ref : float > 0
        Fixed power of 0 dB.
    amin : float > 0
        Floor on power before the logarithm.
    pad_mode : {'constant', 'reflect'}
        STFT centre padding (librosa >= 0.10 uses 'constant').
    htk : bool
        HTK mel scale instead of Slaney's.
    norm : {'slaney', None}
        Mel filter normalisation.
    """

    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    f_min_hz: float = 0.0
    f_max_hz: float | None = None
    power: float = 2.0
    top_db: float | None = None
    ref: float = 1.0
    amin: float = 1e-10
    pad_mode: str = "constant"
    htk: bool = False
    norm: str | None = "slaney"

    def __post_init__(self) -> None:
        _int("sr", self.sr)
        _int("n_fft", self.n_fft)
        _int("hop_length", self.hop_length)
        _int("n_mels", self.n_mels)
        _number("f_min_hz", self.f_min_hz, strict=False)
        _number("f_max_hz", self.f_max_hz, optional=True)
        if self.f_max_hz is not None and self.f_max_hz > self.sr / 2:
            raise InvalidParameterError(f"f_max_hz must be <= sr / 2 = {self.sr / 2} Hz, got {self.f_max_hz}")
        if self.f_min_hz >= (self.sr / 2 if self.f_max_hz is None else self.f_max_hz):
            raise InvalidParameterError(f"f_min_hz ({self.f_min_hz}) must be below f_max_hz")
        _number("power", self.power)
        _number("top_db", self.top_db, strict=False, optional=True)
        _number("ref", self.ref)
        _number("amin", self.amin)
        _check_choice("pad_mode", self.pad_mode, PAD_MODES)
        if not isinstance(self.htk, bool):
            raise InvalidParameterError(f"htk must be a bool, got {self.htk!r}")
        _check_choice("norm", self.norm, MEL_NORMS)

    @property
    def n_freqs(self) -> int:
        """One-sided FFT bins, ``1 + n_fft // 2``."""
        return 1 + self.n_fft // 2


@dataclass(frozen=True)
class MfccConfig(_DictConfig):
    """Parameters of MFCCs: ``n_mfcc`` orthonormal DCT-II coefficients of a dB log-mel.

    ``MfccConfig.librosa_defaults()`` reproduces ``librosa.feature.mfcc(y=y, sr=22050)``,
    whose ``top_db=80`` floor depends on each clip's peak; genrekit's default is no floor.

    Attributes
    ----------
    n_mfcc : int, 0 < n_mfcc <= mel.n_mels
    mel : LogMelConfig
    """

    n_mfcc: int = 20
    mel: LogMelConfig = field(default_factory=LogMelConfig)

    def __post_init__(self) -> None:
        _int("n_mfcc", self.n_mfcc)
        if not isinstance(self.mel, LogMelConfig):
            raise InvalidParameterError(f"mel must be a LogMelConfig, got {type(self.mel).__name__}")
        if self.n_mfcc > self.mel.n_mels:
            raise InvalidParameterError(f"n_mfcc ({self.n_mfcc}) must be <= mel.n_mels ({self.mel.n_mels})")

    @classmethod
    def librosa_defaults(cls, sr: int = 22050) -> MfccConfig:
        """The defaults of ``librosa.feature.mfcc`` (including ``top_db=80``) at ``sr``."""
        return cls(n_mfcc=20, mel=LogMelConfig(sr=sr, top_db=80.0))

    @classmethod
    def _field_values(cls, data: dict[str, Any]) -> dict[str, Any]:
        """``mel`` (a dict in :meth:`to_dict` output) rebuilt as a :class:`LogMelConfig`."""
        values = dict(data)
        if "mel" in values:
            values["mel"] = LogMelConfig.from_dict(values["mel"])
        return values


@dataclass(frozen=True)
class MusicnnInputConfig(_DictConfig):
    """musicnn's input representation and patching (see ``functional.musicnn_input``).

    The pretrained musicnn weights fix ``sr``, ``n_fft``, ``hop_length`` and ``n_mels``;
    they are fields only so that saved configs describe the input fully, and any other
    value is rejected.

    Attributes
    ----------
    sr : int
        16000 Hz.
    n_fft, hop_length : int
        512 and 256 samples.
    n_mels : int
        96.
    n_frames : int > 0
        Frames per patch (187 = 3 s).
    hop_frames : int > 0
        Frames between patch starts (187: no overlap, musicnn's default).
    pad_mode : {'reflect', 'constant'}
        STFT centre padding; musicnn's librosa 0.7 reflected.
    float16_rounding : bool
        Round the mel power to float16 before ``log10(1 + 10000 * mel)``, as musicnn did.
    """

    sr: int = MUSICNN_SR
    n_fft: int = MUSICNN_N_FFT
    hop_length: int = MUSICNN_HOP_LENGTH
    n_mels: int = MUSICNN_N_MELS
    n_frames: int = MUSICNN_N_FRAMES
    hop_frames: int = MUSICNN_N_FRAMES
    pad_mode: str = "reflect"
    float16_rounding: bool = True

    def __post_init__(self) -> None:
        fixed = {"sr": MUSICNN_SR, "n_fft": MUSICNN_N_FFT, "hop_length": MUSICNN_HOP_LENGTH, "n_mels": MUSICNN_N_MELS}
        for name, expected in fixed.items():
            if getattr(self, name) != expected or isinstance(getattr(self, name), bool):
                raise InvalidParameterError(f"musicnn's input has {name}={expected}, got {getattr(self, name)!r}")
        _int("n_frames", self.n_frames)
        _int("hop_frames", self.hop_frames)
        _check_choice("pad_mode", self.pad_mode, PAD_MODES)
        if not isinstance(self.float16_rounding, bool):
            raise InvalidParameterError(f"float16_rounding must be a bool, got {self.float16_rounding!r}")

    @property
    def patch_hop_length(self) -> int:
        """Samples between patch starts, ``hop_frames * hop_length``."""
        return self.hop_frames * self.hop_length
