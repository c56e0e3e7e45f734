"""Augmentation ops (pure torch), and the batch-level policy the training loop applies.

Waveform ops take ``(batch, n_samples)`` (or any leading shape where stated) and return
the same shape; spectrogram ops take ``(batch, ..., freq, time)``. Random draws come from
a :class:`numpy.random.Generator` passed in, so a run is reproducible and its state can be
checkpointed; the tensor arithmetic itself is torch (it runs on the batch's device).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from genrekit.errors import InvalidParameterError


def crop_or_pad(track: torch.Tensor, start: int, n_samples: int) -> torch.Tensor:
    """``track[start:start + n_samples]``, zero-padded at the end where the track is shorter.

    Parameters
    ----------
    track : torch.Tensor [shape=(n,)]
    start : int >= 0
        First sample.
    n_samples : int > 0
        Output length.

    Returns
    -------
    torch.Tensor [shape=(n_samples,)]
    """
    if n_samples <= 0 or start < 0:
        raise InvalidParameterError(f"need n_samples > 0 and start >= 0, got {n_samples}, {start}")
    piece = track[start : start + n_samples]
    if piece.shape[0] < n_samples:
        piece = F.pad(piece, (0, n_samples - piece.shape[0]))
    return piece


def resample_to_length(wave: torch.Tensor, n_out: int) -> torch.Tensor:
    """Resample the last axis to ``n_out`` samples (linear interpolation, anti-aliased when shrinking).

    Parameters
    ----------
    wave : torch.Tensor [shape=(..., n_in)]
    n_out : int > 0

    Returns
    -------
    torch.Tensor [shape=(..., n_out)]
    """
    if n_out <= 0:
        raise InvalidParameterError(f"n_out must be > 0, got {n_out}")
    n_in = wave.shape[-1]
    if n_in == n_out:
        return wave
    lead = wave.shape[:-1]
    x = wave.reshape(-1, 1, 1, n_in).float()
    y = F.interpolate(x, size=(1, n_out), mode="bilinear", align_corners=False, antialias=n_out < n_in)
    return y.reshape(*lead, n_out).to(wave.dtype)


def pitch_shift(excerpt: torch.Tensor, n_samples: int) -> torch.Tensor:
    """Resample-based pitch shift: play ``excerpt`` faster or slower so it lasts ``n_samples``.

    An excerpt of ``round(n_samples * 2 ** (semitones / 12))`` samples comes out shifted by
    ``semitones`` (and its tempo by the same ratio), e.g. a 1000 Hz sine excerpt of 1.5 x
    ``n_samples`` samples becomes a 1500 Hz sine.

    Parameters
    ----------
    excerpt : torch.Tensor [shape=(..., n_in)]
    n_samples : int > 0

    Returns
    -------
    torch.Tensor [shape=(..., n_samples)]
    """
    return resample_to_length(excerpt, n_samples)


def semitones_to_ratio(semitones: float) -> float:
    """Frequency ratio of a pitch interval: ``2 ** (semitones / 12)``."""
    return float(2.0 ** (semitones / 12.0))


def apply_gain(wave: torch.Tensor, gain_db: torch.Tensor) -> torch.Tensor:
    """Scale each example by ``10 ** (gain_db / 20)``.

    Parameters
    ----------
    wave : torch.Tensor [shape=(batch, n_samples)]
    gain_db : torch.Tensor [shape=(batch,)]
        Gain in dB.
    """
    return wave * torch.pow(10.0, gain_db.to(wave) / 20.0).unsqueeze(-1)


def time_shift(wave: torch.Tensor, shift_samples: torch.Tensor) -> torch.Tensor:
    """Delay (positive) or advance (negative) each example, filling with zeros.

    Parameters
    ----------
    wave : torch.Tensor [shape=(batch, n_samples)]
    shift_samples : torch.Tensor [shape=(batch,), dtype=int]

    Returns
    -------
    torch.Tensor [shape=(batch, n_samples)]
        ``out[b, t] = wave[b, t - shift[b]]`` where that index is valid, else 0.
    """
    if wave.ndim != 2 or shift_samples.shape != (wave.shape[0],):
        raise InvalidParameterError(
            f"need wave (batch, n) and shift (batch,), got {tuple(wave.shape)}, {tuple(shift_samples.shape)}"
        )
    n = wave.shape[-1]
    source = torch.arange(n, device=wave.device).unsqueeze(0) - shift_samples.to(wave.device).long().unsqueeze(1)
    valid = (source >= 0) & (source < n)
    gathered = torch.gather(wave, 1, source.clamp(0, n - 1))
    return torch.where(valid, gathered, torch.zeros((), dtype=wave.dtype, device=wave.device))


def mask_axis(
    spec: torch.Tensor, starts: torch.Tensor, widths: torch.Tensor, axis: int, fill: torch.Tensor
) -> torch.Tensor:
    """Set ``[start, start + width)`` along ``axis`` (-2 freq, -1 time) of each example to ``fill``.

    Parameters
    ----------
    spec : torch.Tensor [shape=(batch, ..., freq, time)]
    starts, widths : torch.Tensor [shape=(batch,)]
    axis : {-2, -1}
    fill : torch.Tensor [shape=(batch,)]
        Value per example.
    """
    if axis not in (-2, -1):
        raise InvalidParameterError(f"axis must be -2 (freq) or -1 (time), got {axis}")
    batch = spec.shape[0]
    size = spec.shape[axis]
    index = torch.arange(size, device=spec.device).unsqueeze(0)
    hit = (index >= starts.to(spec.device).unsqueeze(1)) & (index < (starts + widths).to(spec.device).unsqueeze(1))
    shape = [batch] + [1] * (spec.ndim - 1)
    shape[axis] = size
    hit = hit.reshape(shape)
    return torch.where(hit, fill.to(spec).reshape([batch] + [1] * (spec.ndim - 1)), spec)


def spec_augment(
    spec: torch.Tensor,
    rng: np.random.Generator,
    *,
    freq_mask_bins: int,
    time_mask_frames: int,
    n_freq_masks: int = 1,
    n_time_masks: int = 1,
) -> torch.Tensor:
    """SpecAugment frequency and time masking (Park et al. 2019), filled with each example's mean.

    Each mask has a width drawn uniformly in ``[0, max_width]`` and a uniform start.

    Parameters
    ----------
    spec : torch.Tensor [shape=(batch, ..., freq, time)]
    rng : numpy.random.Generator
    freq_mask_bins, time_mask_frames : int >= 0
        Maximal widths (bins, frames); 0 disables that kind.
    n_freq_masks, n_time_masks : int >= 0

    Returns
    -------
    torch.Tensor
        Same shape as ``spec``.
    """
    if spec.ndim < 3:
        raise InvalidParameterError(f"spec must have shape (batch, ..., freq, time), got {tuple(spec.shape)}")
    batch = spec.shape[0]
    fill = spec.reshape(batch, -1).mean(dim=1).detach()
    out = spec
    for axis, max_width, n_masks in ((-2, freq_mask_bins, n_freq_masks), (-1, time_mask_frames, n_time_masks)):
        size = spec.shape[axis]
        max_width = min(int(max_width), size)
        if max_width <= 0:
            continue
        for _ in range(int(n_masks)):
            widths = rng.integers(0, max_width + 1, size=batch)
            starts = np.floor(rng.random(batch) * (size - widths + 1)).astype(np.int64)
            out = mask_axis(out, torch.from_numpy(starts), torch.from_numpy(widths), axis, fill)
    return out


def mixup(
    x: torch.Tensor, targets: torch.Tensor, rng: np.random.Generator, *, alpha: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018): convex mix of each example with a permuted partner.

    Parameters
    ----------
    x : torch.Tensor [shape=(batch, ...)]
        Inputs or features.
    targets : torch.Tensor [shape=(batch, n_labels)]
        Target distributions (one-hot or soft).
    rng : numpy.random.Generator
    alpha : float > 0
        Beta(alpha, alpha) parameter of the mixing weight (one weight per batch).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        Mixed inputs and targets, same shapes; target rows still sum to 1.
    """
    if alpha <= 0:
        raise InvalidParameterError(f"alpha must be > 0, got {alpha}")
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(x.shape[0])).to(x.device)
    mixed_x = lam * x + (1.0 - lam) * x[perm]
    mixed_t = lam * targets + (1.0 - lam) * targets[perm]
    return mixed_x, mixed_t


def draw_training_batch(
    tracks: list[torch.Tensor],
    indices: np.ndarray,
    n_samples: int,
    rng: np.random.Generator,
    *,
    random_crop: bool = True,
    pitch_shift_semitones: float = 0.0,
    pitch_shift_p: float = 0.0,
) -> torch.Tensor:
    """Cut one window per index from its track: random crop, then optional pitch shift.

    Parameters
    ----------
    tracks : list of torch.Tensor [shape=(n,)]
        Decoded mono tracks.
    indices : np.ndarray [shape=(batch,), dtype=int]
        Track of each example.
    n_samples : int
        Window length (samples).
    rng : numpy.random.Generator
    random_crop : bool
        Random start; else each window starts at the track's start.
    pitch_shift_semitones : float >= 0
        Maximal absolute shift; 0 disables.
    pitch_shift_p : float in [0, 1]
        Probability of shifting a window.

    Returns
    -------
    torch.Tensor [shape=(batch, n_samples), dtype=float32]
    """
    windows = []
    for index in indices:
        track = tracks[int(index)]
        ratio = 1.0
        if pitch_shift_semitones > 0 and rng.random() < pitch_shift_p:
            ratio = semitones_to_ratio(rng.uniform(-pitch_shift_semitones, pitch_shift_semitones))
        length = max(1, int(round(n_samples * ratio)))
        spare = track.shape[0] - length
        start = int(rng.integers(0, spare + 1)) if (random_crop and spare > 0) else 0
        piece = crop_or_pad(track, start, length)
        windows.append(pitch_shift(piece, n_samples) if length != n_samples else piece)
    return torch.stack(windows).float()


def augment_waveforms(
    wave: torch.Tensor, rng: np.random.Generator, *, gain_db: float = 0.0, max_shift_samples: int = 0
) -> torch.Tensor:
    """Random gain (uniform in +-``gain_db`` dB) and random zero-filled shift (+-``max_shift_samples``).

    Parameters
    ----------
    wave : torch.Tensor [shape=(batch, n_samples)]
    rng : numpy.random.Generator

    Returns
    -------
    torch.Tensor [shape=(batch, n_samples)]
    """
    batch = wave.shape[0]
    if gain_db > 0:
        wave = apply_gain(wave, torch.from_numpy(rng.uniform(-gain_db, gain_db, size=batch)).float())
    if max_shift_samples > 0:
        shifts = rng.integers(-max_shift_samples, max_shift_samples + 1, size=batch)
        wave = time_shift(wave, torch.from_numpy(shifts))
    return wave
