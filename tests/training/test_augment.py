"""Augmentation ops: exact results on synthetic input, shapes and invariants."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrekit.errors import InvalidParameterError
from genrekit.training.augment import (
    apply_gain,
    augment_waveforms,
    crop_or_pad,
    draw_training_batch,
    mask_axis,
    mixup,
    pitch_shift,
    resample_to_length,
    semitones_to_ratio,
    spec_augment,
    time_shift,
)

SR = 8000  # Hz


def dominant_hz(wave: torch.Tensor) -> float:
    spectrum = torch.fft.rfft(wave * torch.hann_window(wave.shape[-1], dtype=wave.dtype)).abs()
    return float(torch.argmax(spectrum)) * SR / wave.shape[-1]


def sine(freq_hz: float, n: int) -> torch.Tensor:
    return torch.sin(2 * torch.pi * freq_hz * torch.arange(n, dtype=torch.float64) / SR)


def test_crop_or_pad() -> None:
    track = torch.arange(10.0)
    torch.testing.assert_close(crop_or_pad(track, 2, 3), torch.tensor([2.0, 3.0, 4.0]))
    torch.testing.assert_close(crop_or_pad(track, 8, 4), torch.tensor([8.0, 9.0, 0.0, 0.0]))
    with pytest.raises(InvalidParameterError):
        crop_or_pad(track, -1, 3)


@pytest.mark.parametrize("semitones", [-3.0, 2.0, 7.0])
def test_pitch_shift_moves_a_sine_by_the_ratio(semitones: float) -> None:
    n = 8000
    ratio = semitones_to_ratio(semitones)
    excerpt = sine(500.0, int(round(n * ratio)))
    shifted = pitch_shift(excerpt, n)
    assert shifted.shape == (n,)
    assert dominant_hz(shifted) == pytest.approx(500.0 * ratio, abs=2.0)


def test_resample_to_length_keeps_batch_shape_and_identity() -> None:
    x = torch.randn(2, 3, 100, generator=torch.Generator().manual_seed(0))
    assert resample_to_length(x, 50).shape == (2, 3, 50)
    assert resample_to_length(x, 100) is x
    with pytest.raises(InvalidParameterError):
        resample_to_length(x, 0)


def test_gain_is_exact() -> None:
    x = torch.ones(2, 4)
    out = apply_gain(x, torch.tensor([20.0, -6.0]))
    torch.testing.assert_close(out[0], torch.full((4,), 10.0))
    torch.testing.assert_close(out[1], torch.full((4,), 10 ** (-6 / 20)))


def test_time_shift_moves_an_impulse_and_fills_zeros() -> None:
    x = torch.zeros(3, 10)
    x[:, 4] = 1.0
    out = time_shift(x, torch.tensor([2, -3, 0]))
    assert out[0].nonzero().flatten().tolist() == [6]
    assert out[1].nonzero().flatten().tolist() == [1]
    torch.testing.assert_close(out[2], x[2])
    ramp = torch.arange(1.0, 6.0)[None, :]
    torch.testing.assert_close(time_shift(ramp, torch.tensor([2])), torch.tensor([[0.0, 0.0, 1.0, 2.0, 3.0]]))


def test_mask_axis_exact() -> None:
    spec = torch.ones(2, 4, 5)
    out = mask_axis(spec, torch.tensor([1, 0]), torch.tensor([2, 1]), -2, torch.tensor([0.0, -1.0]))
    assert out[0, :, 0].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert out[1, :, 0].tolist() == [-1.0, 1.0, 1.0, 1.0]
    out = mask_axis(spec, torch.tensor([3, 0]), torch.tensor([2, 0]), -1, torch.tensor([0.0, 0.0]))
    assert out[0, 0].tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    torch.testing.assert_close(out[1], spec[1])


def test_spec_augment_masks_within_limits() -> None:
    rng = np.random.default_rng(0)
    spec = torch.arange(2 * 16 * 20, dtype=torch.float32).reshape(2, 16, 20) + 1000.0
    out = spec_augment(spec, rng, freq_mask_bins=4, time_mask_frames=5, n_freq_masks=1, n_time_masks=1)
    assert out.shape == spec.shape
    for b in range(2):
        changed = out[b] != spec[b]
        rows = changed.all(dim=1).sum().item()
        cols = changed.all(dim=0).sum().item()
        assert rows <= 4 and cols <= 5
        assert torch.all(out[b][changed] == spec[b].mean())
    untouched = spec_augment(spec, rng, freq_mask_bins=0, time_mask_frames=0)
    torch.testing.assert_close(untouched, spec)
    with pytest.raises(InvalidParameterError):
        spec_augment(spec[0, 0], rng, freq_mask_bins=1, time_mask_frames=1)


def test_mixup_is_a_convex_combination() -> None:
    rng = np.random.default_rng(1)
    x = torch.tensor([[0.0, 0.0], [10.0, 10.0], [4.0, 4.0]])
    targets = torch.eye(3)
    mixed_x, mixed_t = mixup(x, targets, rng, alpha=0.4)
    torch.testing.assert_close(mixed_t.sum(dim=1), torch.ones(3))
    assert torch.all((mixed_x >= 0.0) & (mixed_x <= 10.0))
    # each mixed row is lam * x_i + (1 - lam) * x_j with the same weights as its target row
    torch.testing.assert_close(mixed_x, mixed_t @ x)
    with pytest.raises(InvalidParameterError):
        mixup(x, targets, rng, alpha=0.0)


def test_draw_training_batch_crops_and_is_reproducible() -> None:
    tracks = [torch.arange(100.0), torch.arange(30.0)]
    batch = draw_training_batch(tracks, np.array([0, 1, 0]), 40, np.random.default_rng(3))
    assert batch.shape == (3, 40) and batch.dtype == torch.float32
    start = int(batch[0, 0])
    torch.testing.assert_close(batch[0], torch.arange(start, start + 40.0))
    torch.testing.assert_close(batch[1], torch.cat([torch.arange(30.0), torch.zeros(10)]))
    again = draw_training_batch(tracks, np.array([0, 1, 0]), 40, np.random.default_rng(3))
    torch.testing.assert_close(batch, again)
    fixed = draw_training_batch(tracks, np.array([0]), 40, np.random.default_rng(3), random_crop=False)
    torch.testing.assert_close(fixed[0], torch.arange(40.0))
    shifted = draw_training_batch(
        [sine(400.0, 20000).float()],
        np.array([0, 0]),
        4000,
        np.random.default_rng(0),
        pitch_shift_semitones=5.0,
        pitch_shift_p=1.0,
    )
    assert shifted.shape == (2, 4000)
    assert all(abs(dominant_hz(w.double()) - 400.0) > 4.0 for w in shifted)


def test_augment_waveforms_keeps_shape_and_bounds_gain() -> None:
    x = torch.ones(4, 100)
    out = augment_waveforms(x, np.random.default_rng(0), gain_db=6.0, max_shift_samples=0)
    assert out.shape == x.shape
    peaks = out.abs().amax(dim=1)
    assert torch.all(peaks <= 10 ** (6 / 20) + 1e-6) and torch.all(peaks >= 10 ** (-6 / 20) - 1e-6)
    shifted = augment_waveforms(x, np.random.default_rng(0), gain_db=0.0, max_shift_samples=10)
    assert torch.all(shifted.sum(dim=1) >= 90.0)
