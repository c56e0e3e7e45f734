"""Pure torch feature transforms: spectrograms, mel filter banks, log-mel, MFCC, musicnn input.

Every transform takes a waveform ``(..., samples)`` with any leading batch shape (a
``torch.Tensor`` or a NumPy array, float32 or float64) and returns a tensor laid out as
``(..., freq, time)`` with the same leading shape, on the input's device and in its dtype.
Nothing here reads files, and no value depends on the rest of the batch: decibels use a
fixed reference, and the optional ``top_db`` floor (off by default) looks only at one item.

Parity with librosa 0.11 (the test reference; librosa is never called here):

* :func:`spectrogram` is ``np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length,
  window='hann', center=True, pad_mode=pad_mode)) ** power``. librosa >= 0.10 pads with
  zeros (``pad_mode='constant'``, our default); librosa < 0.10 padded by reflection.
* :func:`mel_filterbank` is ``librosa.filters.mel`` (Slaney or HTK mel scale, Slaney
  area normalisation or none), bit for bit in float32.
* :func:`log_mel_spectrogram` is ``librosa.power_to_db(librosa.feature.melspectrogram(...),
  ref=ref, amin=amin, top_db=top_db)``.
* :func:`mfcc` is ``librosa.feature.mfcc`` (DCT-II, orthonormal, on the dB mel spectrogram).
  librosa's ``mfcc`` defaults to ``top_db=80``, which clips each clip 80 dB below *its own*
  peak; genrekit's default is ``top_db=None`` (house rule: a feature must not depend on its
  surroundings). Pass ``top_db=80.0`` to reproduce ``librosa.feature.mfcc(y=y, sr=sr)``.
* :func:`musicnn_input` is musicnn 0.1.0's ``extractor.batch_data`` representation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Unpack

import numpy as np
import torch

from genrekit.errors import InvalidParameterError
from genrekit.features.spectral import (
    _FLOAT16_MAX,
    MEL_NORMS,
    MUSICNN_HOP_LENGTH,
    MUSICNN_LOG_MULTIPLIER,
    MUSICNN_N_FFT,
    MUSICNN_N_FRAMES,
    MUSICNN_N_MELS,
    MUSICNN_SR,
    PAD_MODES,
    MelBankOptions,
    _check_choice,
    _check_f_range,
    _check_int,
    _check_positive,
    hz_to_mel,
    mel_to_hz,
    mel_weights,
)

# ----------------------------------------------------------------------------- checks


def _as_wave(wave: torch.Tensor | np.ndarray, name: str = "wave") -> torch.Tensor:
    """A float32/float64 tensor ``(..., samples)`` with at least one sample (no copy when possible)."""
    if isinstance(wave, np.ndarray):
        wave = torch.from_numpy(wave)
    if not isinstance(wave, torch.Tensor):
        raise InvalidParameterError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(wave).__name__}")
    if wave.dtype not in (torch.float32, torch.float64):
        raise InvalidParameterError(f"{name} must be float32 or float64, got {wave.dtype}")
    if wave.ndim < 1 or wave.shape[-1] == 0:
        raise InvalidParameterError(f"{name} must have shape (..., samples) with samples >= 1, got {tuple(wave.shape)}")
    return wave


def _as_spec(spec: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    """A float tensor ``(..., freq, time)``."""
    if isinstance(spec, np.ndarray):
        spec = torch.from_numpy(spec)
    if not isinstance(spec, torch.Tensor):
        raise InvalidParameterError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(spec).__name__}")
    if not spec.is_floating_point():
        raise InvalidParameterError(f"{name} must be a floating-point tensor, got {spec.dtype}")
    if spec.ndim < 2:
        raise InvalidParameterError(f"{name} must have shape (..., freq, time), got {tuple(spec.shape)}")
    return spec


def _check_matrix(name: str, matrix: torch.Tensor, shape: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
    if not isinstance(matrix, torch.Tensor) or tuple(matrix.shape) != shape:
        got = tuple(matrix.shape) if isinstance(matrix, torch.Tensor) else type(matrix).__name__
        raise InvalidParameterError(f"{name} must be a tensor of shape {shape}, got {got}")
    return matrix.to(dtype=like.dtype, device=like.device)


def _check_window(window: torch.Tensor, n_fft: int, like: torch.Tensor) -> torch.Tensor:
    if not isinstance(window, torch.Tensor) or tuple(window.shape) != (n_fft,):
        got = tuple(window.shape) if isinstance(window, torch.Tensor) else type(window).__name__
        raise InvalidParameterError(f"window must be a tensor of shape ({n_fft},), got {got}")
    return window.to(dtype=like.dtype, device=like.device)


def hann_window(
    n_fft: int, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """Periodic Hann window, as ``scipy.signal.get_window('hann', n_fft, fftbins=True)``.

    Parameters
    ----------
    n_fft : int > 0
        Window length in samples.
    dtype, device
        Of the returned tensor (computed in float64, then cast).

    Returns
    -------
    torch.Tensor [shape=(n_fft,)]
    """
    n_fft = _check_int("n_fft", n_fft)
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float64).to(dtype=dtype, device=device)


def n_stft_frames(n_samples: int, *, n_fft: int, hop_length: int, center: bool = True) -> int:
    """Number of STFT frames of a signal of ``n_samples`` samples.

    ``1 + n_samples // hop_length`` when centred (the signal is padded by ``n_fft // 2`` on
    each side), else ``1 + (n_samples - n_fft) // hop_length``.
    """
    n_samples = _check_int("n_samples", n_samples, minimum=0)
    n_fft = _check_int("n_fft", n_fft)
    hop_length = _check_int("hop_length", hop_length)
    padded = n_samples + 2 * (n_fft // 2) if center else n_samples
    if padded < n_fft:
        return 0
    return 1 + (padded - n_fft) // hop_length


def spectrogram(
    wave: torch.Tensor | np.ndarray,
    *,
    n_fft: int = 2048,
    hop_length: int = 512,
    power: float = 2.0,
    center: bool = True,
    pad_mode: str = "constant",
    window: torch.Tensor | None = None,
) -> torch.Tensor:
    """Magnitude (``power=1``) or power (``power=2``) spectrogram of a Hann-windowed STFT.

    Parameters
    ----------
    wave : Tensor or ndarray [shape=(..., samples), dtype=float32 or float64]
        Waveform(s); any leading batch shape.
    n_fft : int > 0
        FFT size and window length in samples.
    hop_length : int > 0
        Samples between consecutive frames.
    power : float > 0
        Exponent applied to the magnitude.
    center : bool
        Pad ``n_fft // 2`` samples on both sides so that frame ``t`` is centred on sample
        ``t * hop_length`` (librosa's default).
    pad_mode : {'constant', 'reflect'}
        Centre padding: zeros (librosa >= 0.10) or reflection (librosa < 0.10). Reflection
        needs more than ``n_fft // 2`` samples.
    window : Tensor [shape=(n_fft,)], optional
        Precomputed window (e.g. a module buffer); the periodic Hann window by default.

    Returns
    -------
    torch.Tensor [shape=(..., 1 + n_fft // 2, frames)]
        ``frames = n_stft_frames(samples, n_fft=n_fft, hop_length=hop_length, center=center)``.
    """
    x = _as_wave(wave)
    n_fft = _check_int("n_fft", n_fft)
    hop_length = _check_int("hop_length", hop_length)
    power = _check_positive("power", power)
    _check_choice("pad_mode", pad_mode, PAD_MODES)
    n_samples = x.shape[-1]
    if not center and n_samples < n_fft:
        raise InvalidParameterError(f"an uncentred STFT needs at least n_fft={n_fft} samples, got {n_samples}")
    if center and pad_mode == "reflect" and n_samples <= n_fft // 2:
        raise InvalidParameterError(
            f"pad_mode='reflect' needs more than n_fft // 2 = {n_fft // 2} samples, got {n_samples}"
        )
    if window is None:
        window = hann_window(n_fft, dtype=x.dtype, device=x.device)
    else:
        window = _check_window(window, n_fft, x)
    batch_shape = x.shape[:-1]
    n_frames = n_stft_frames(n_samples, n_fft=n_fft, hop_length=hop_length, center=center)
    flat = x.reshape(-1, n_samples)
    if flat.shape[0] == 0:
        return x.new_zeros((*batch_shape, n_fft // 2 + 1, n_frames))
    stft = torch.stft(
        flat,
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=n_fft,
        window=window,
        center=center,
        pad_mode=pad_mode,
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    if power == 2.0:
        spec = torch.view_as_real(stft).pow(2).sum(-1)
    else:
        spec = stft.abs().pow(power)
    return spec.reshape(*batch_shape, n_fft // 2 + 1, n_frames)


# ----------------------------------------------------------------------------- mel scale


def mel_filterbank(
    *,
    sr: float,
    n_fft: int,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    **bank: Unpack[MelBankOptions],
) -> torch.Tensor:
    """Triangular mel filter bank, equal to ``librosa.filters.mel`` (bit for bit in float32), as a tensor.

    ``sr`` (Hz), ``n_fft`` (samples) and the ``bank`` keywords (``n_mels=128``, ``f_min_hz=0.0``,
    ``f_max_hz=None``, ``htk=False``, ``norm='slaney'``) are those of
    :func:`genrekit.features.spectral.mel_weights` (which computes it); ``dtype`` and
    ``device`` are those of the returned tensor ``(n_mels, 1 + n_fft // 2)``.
    """
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    weights = mel_weights(sr=sr, n_fft=n_fft, dtype=np_dtype, **bank)
    return torch.from_numpy(weights).to(dtype=dtype, device=device)


def mel_spectrogram(
    wave: torch.Tensor | np.ndarray,
    *,
    sr: float,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    f_min_hz: float = 0.0,
    f_max_hz: float | None = None,
    power: float = 2.0,
    center: bool = True,
    pad_mode: str = "constant",
    htk: bool = False,
    norm: str | None = "slaney",
    mel_basis: torch.Tensor | None = None,
    window: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mel spectrogram, as ``librosa.feature.melspectrogram`` (power 2 by default, linear scale).

    Parameters are those of :func:`spectrogram` and :func:`mel_filterbank`; ``mel_basis``
    ``(n_mels, 1 + n_fft // 2)`` and ``window`` ``(n_fft,)`` may be passed precomputed.

    Returns
    -------
    torch.Tensor [shape=(..., n_mels, frames)]
    """
    sr = _check_positive("sr", sr)
    spec = spectrogram(
        wave, n_fft=n_fft, hop_length=hop_length, power=power, center=center, pad_mode=pad_mode, window=window
    )
    if mel_basis is None:
        _check_int("n_mels", n_mels)
        mel_basis = mel_filterbank(
            sr=sr, n_fft=n_fft, n_mels=n_mels, f_min_hz=f_min_hz, f_max_hz=f_max_hz, htk=htk, norm=norm,
            dtype=spec.dtype, device=spec.device,
        )  # fmt: skip
    else:
        _check_f_range(sr, f_min_hz, f_max_hz)
        mel_basis = _check_matrix("mel_basis", mel_basis, (n_mels, n_fft // 2 + 1), spec)
    return torch.matmul(mel_basis, spec)


# ----------------------------------------------------------------------------- decibels, log-mel, MFCC


def power_to_db(
    spec: torch.Tensor | np.ndarray,
    *,
    ref: float = 1.0,
    amin: float = 1e-10,
    top_db: float | None = None,
) -> torch.Tensor:
    """Power to decibels with a fixed reference, as ``librosa.power_to_db`` with a number ``ref``.

    ``10 * log10(max(amin, spec)) - 10 * log10(max(amin, ref))``, then, if ``top_db`` is
    given, values below ``peak - top_db`` are raised to it, the peak being taken over the
    last two axes of each item (librosa takes it over the whole array, which is the same
    for a single ``(freq, time)`` spectrogram).

    Parameters
    ----------
    spec : Tensor or ndarray [shape=(..., freq, time)]
        Power spectrogram (non-negative).
    ref : float > 0
        Power that maps to 0 dB. A number only: never the clip's maximum.
    amin : float > 0
        Floor on ``spec`` and ``ref`` before the logarithm.
    top_db : float >= 0 or None
        Dynamic range kept below each item's peak; ``None`` keeps everything.

    Returns
    -------
    torch.Tensor [shape=(..., freq, time)] (dB)
    """
    s = _as_spec(spec, "spec")
    ref = _check_positive("ref", ref)
    amin = _check_positive("amin", amin)
    log_spec = 10.0 * torch.log10(torch.clamp(s, min=amin)) - 10.0 * math.log10(max(amin, ref))
    if top_db is not None:
        if isinstance(top_db, bool) or not isinstance(top_db, (int, float)) or not top_db >= 0:
            raise InvalidParameterError(f"top_db must be a number >= 0 or None, got {top_db!r}")
        if log_spec.shape[-1] * log_spec.shape[-2] > 0:
            peak = log_spec.amax(dim=(-2, -1), keepdim=True)
            log_spec = torch.maximum(log_spec, peak - float(top_db))
    return log_spec


class MelOptions(MelBankOptions, total=False):
    """The optional keywords of :func:`mel_spectrogram` (meaning and defaults there), which
    :func:`log_mel_spectrogram` and :func:`mfcc` pass on."""

    n_fft: int
    hop_length: int
    power: float
    center: bool
    pad_mode: str
    mel_basis: torch.Tensor | None
    window: torch.Tensor | None


class LogMelOptions(MelOptions, total=False):
    """The optional keywords of :func:`log_mel_spectrogram` (meaning and defaults there), which
    :func:`mfcc` passes on."""

    ref: float
    amin: float
    top_db: float | None


def log_mel_spectrogram(
    wave: torch.Tensor | np.ndarray,
    *,
    sr: float,
    ref: float = 1.0,
    amin: float = 1e-10,
    top_db: float | None = None,
    **mel: Unpack[MelOptions],
) -> torch.Tensor:
    """Log-mel spectrogram in dB, as ``librosa.power_to_db(librosa.feature.melspectrogram(...))``.

    Parameters
    ----------
    wave : Tensor or ndarray [shape=(..., samples), dtype=float32 or float64]
        Waveform(s) at ``sr``.
    sr : number > 0 (Hz)
    ref, amin, top_db
        See :func:`power_to_db`. ``ref`` is fixed (default 1.0 = 0 dB), never the clip's peak.
    **mel
        The keywords of :func:`mel_spectrogram`, with its defaults: ``n_fft=2048``,
        ``hop_length=512`` (samples), ``n_mels=128``, ``f_min_hz=0.0``, ``f_max_hz=None``
        (Hz, ``sr / 2``), ``power=2.0`` (2 for power, dB = 10 log10; 1 for magnitude),
        ``center=True``, ``pad_mode='constant'`` (see :func:`spectrogram`), ``htk=False``,
        ``norm='slaney'`` (see :func:`mel_filterbank`), and the precomputed constants
        ``mel_basis`` and ``window`` (module buffers).

    Returns
    -------
    torch.Tensor [shape=(..., n_mels, frames)] (dB)
    """
    return power_to_db(mel_spectrogram(wave, sr=sr, **mel), ref=ref, amin=amin, top_db=top_db)


def dct_matrix(
    n_mfcc: int, n_mels: int, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """Orthonormal DCT-II basis, as ``scipy.fft.dct(x, type=2, norm='ortho')`` along the mel axis.

    Parameters
    ----------
    n_mfcc : int, 0 < n_mfcc <= n_mels
        Number of coefficients kept.
    n_mels : int > 0
        Input length (mel bands).

    Returns
    -------
    torch.Tensor [shape=(n_mfcc, n_mels)]
        ``mfcc = dct @ log_mel``.
    """
    n_mels = _check_int("n_mels", n_mels)
    n_mfcc = _check_int("n_mfcc", n_mfcc)
    if n_mfcc > n_mels:
        raise InvalidParameterError(f"n_mfcc ({n_mfcc}) must be <= n_mels ({n_mels})")
    k = np.arange(n_mfcc, dtype=np.float64)[:, None]
    n = np.arange(n_mels, dtype=np.float64)[None, :]
    basis = np.cos(np.pi / n_mels * (n + 0.5) * k) * math.sqrt(2.0 / n_mels)
    basis[0] /= math.sqrt(2.0)
    return torch.from_numpy(basis).to(dtype=dtype, device=device)


def mfcc(
    wave: torch.Tensor | np.ndarray,
    *,
    sr: float,
    n_mfcc: int = 20,
    dct: torch.Tensor | None = None,
    **log_mel: Unpack[LogMelOptions],
) -> torch.Tensor:
    """Mel-frequency cepstral coefficients: orthonormal DCT-II of the dB log-mel spectrogram.

    Equal to ``librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, top_db=top_db, ...)``. Note
    librosa's default ``top_db=80`` (a floor relative to the clip's own peak); genrekit's is
    ``None``. Pass ``top_db=80.0`` to reproduce librosa's defaults exactly.

    Parameters
    ----------
    wave : Tensor or ndarray [shape=(..., samples), dtype=float32 or float64]
    sr : number > 0 (Hz)
    n_mfcc : int, 0 < n_mfcc <= n_mels
    dct : Tensor [shape=(n_mfcc, n_mels)], optional
        Precomputed :func:`dct_matrix`.
    **log_mel
        The keywords of :func:`log_mel_spectrogram`, with its defaults (128 mels).

    Returns
    -------
    torch.Tensor [shape=(..., n_mfcc, frames)]
    """
    log_mel_db = log_mel_spectrogram(wave, sr=sr, **log_mel)
    n_mels = log_mel_db.shape[-2]
    if dct is None:
        dct = dct_matrix(n_mfcc, n_mels, dtype=log_mel_db.dtype, device=log_mel_db.device)
    else:
        _check_int("n_mfcc", n_mfcc)
        dct = _check_matrix("dct", dct, (n_mfcc, n_mels), log_mel_db)
    return torch.matmul(dct, log_mel_db)


# ----------------------------------------------------------------------------- musicnn


def musicnn_input(
    wave: torch.Tensor | np.ndarray,
    *,
    pad_mode: str = "reflect",
    float16_rounding: bool = True,
    mel_basis: torch.Tensor | None = None,
    window: torch.Tensor | None = None,
) -> torch.Tensor:
    """musicnn's input representation: ``log10(1 + 10000 * mel)`` of a 16 kHz signal.

    Reproduces musicnn 0.1.0 ``extractor.batch_data`` (and musicnn-training's
    ``preprocess_librosa.py``)::

        mel = librosa.feature.melspectrogram(y=audio, sr=16000, hop_length=256, n_fft=512, n_mels=96)
        mel = mel.astype(np.float16)
        rep = np.log10(10000 * mel + 1)

    i.e. a centred Hann STFT (n_fft 512, hop 256), power 2, 96 Slaney-normalised Slaney-scale
    mel bands from 0 Hz to 8 kHz. musicnn was trained and released on librosa 0.6/0.7,
    whose STFT padded by reflection (``pad_mode='reflect'``, our default). The same code run
    under librosa >= 0.10 pads with zeros: ``pad_mode='constant'`` reproduces that (only the
    first and last frames differ). The mel power was rounded to float16 and the rest
    computed in float32 (NumPy 1.x promotes ``float16 * 10000`` to float32; under NumPy 2
    the same line stays in float16 and overflows to inf above a mel power of 6.55);
    ``float16_rounding`` reproduces the rounding (a mel power above float16's maximum,
    65504, which needs samples far beyond full scale, is clamped there, not made inf).
    musicnn resampled with ``librosa.load`` (resampy in 0.7, soxr in >= 0.10); resampling
    is the caller's job here.

    Parameters
    ----------
    wave : Tensor or ndarray [shape=(..., samples), dtype=float32 or float64]
        Waveform(s) at 16 kHz (:data:`MUSICNN_SR`), more than 256 samples with reflection.
    pad_mode : {'reflect', 'constant'}
    float16_rounding : bool
        Round the mel power to float16 (as musicnn did) before the compression.
    mel_basis : Tensor [shape=(96, 257)], optional
    window : Tensor [shape=(512,)], optional
        Precomputed constants (module buffers).

    Returns
    -------
    torch.Tensor [shape=(..., 96, frames)]
        ``frames = 1 + samples // 256``; frequency first, like every genrekit feature
        (musicnn's own arrays are time first: see :func:`musicnn_patches`).
    """
    mel = mel_spectrogram(
        wave, sr=MUSICNN_SR, n_fft=MUSICNN_N_FFT, hop_length=MUSICNN_HOP_LENGTH, n_mels=MUSICNN_N_MELS,
        power=2.0, center=True, pad_mode=pad_mode, mel_basis=mel_basis, window=window,
    )  # fmt: skip
    if float16_rounding:
        mel = mel.clamp(max=_FLOAT16_MAX).to(torch.float16).to(mel.dtype)
    return torch.log10(MUSICNN_LOG_MULTIPLIER * mel + 1.0)


def musicnn_patches(
    log_mel: torch.Tensor | np.ndarray,
    *,
    n_frames: int = MUSICNN_N_FRAMES,
    hop_frames: int | None = None,
    pad_short: bool = True,
) -> torch.Tensor:
    """Cut a musicnn log-mel spectrogram into patches, as musicnn's ``extractor.batch_data``.

    Patch ``i`` holds frames ``[i * hop_frames, i * hop_frames + n_frames)``, for every ``i``
    where that range fits: ``n_patches = 1 + (frames - n_frames) // hop_frames``. As in
    musicnn, a trailing partial patch is dropped. musicnn fails on a spectrogram shorter
    than one patch; here it is zero-padded to one patch if ``pad_short`` (0 is the value of
    silence after ``log10(1 + 10000 * mel)``), else rejected.

    Parameters
    ----------
    log_mel : Tensor or ndarray [shape=(..., n_mels, frames)]
        Output of :func:`musicnn_input`.
    n_frames : int > 0
        Frames per patch (187 = 3 s, musicnn's ``input_length=3``).
    hop_frames : int > 0, optional
        Frames between patch starts (musicnn's ``overlap`` argument); ``n_frames`` by
        default (no overlap, musicnn's ``input_overlap=False``).
    pad_short : bool
        Zero-pad a spectrogram shorter than ``n_frames`` to one patch instead of raising.

    Returns
    -------
    torch.Tensor [shape=(..., n_patches, n_frames, n_mels)]
        Time first, musicnn's ``(batch, 187, 96)`` layout.
    """
    x = _as_spec(log_mel, "log_mel")
    n_frames = _check_int("n_frames", n_frames)
    hop_frames = n_frames if hop_frames is None else _check_int("hop_frames", hop_frames)
    n_available = x.shape[-1]
    if n_available < n_frames:
        if not pad_short:
            raise InvalidParameterError(f"log_mel has {n_available} frames, fewer than one patch of {n_frames}")
        x = torch.nn.functional.pad(x, (0, n_frames - n_available))
    patches = x.unfold(-1, n_frames, hop_frames)  # (..., n_mels, n_patches, n_frames)
    return patches.permute(*range(x.ndim - 2), -2, -1, -3)
