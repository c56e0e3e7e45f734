"""The torch-free musicnn input (serving path) against the torch one (training path)."""

from __future__ import annotations

import numpy as np
import pytest

from genrekit.errors import InvalidParameterError
from genrekit.features.functional import mel_filterbank, musicnn_input
from genrekit.features.spectral import (
    MUSICNN_MIN_WINDOW_LENGTH,
    MUSICNN_N_FRAMES,
    MUSICNN_WINDOW_LENGTH,
    mel_weights,
    musicnn_input_np,
    musicnn_window_patches,
)


def _waves(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(MUSICNN_WINDOW_LENGTH) / 16000
    tones = np.sin(2 * np.pi * rng.uniform(100, 4000, (n, 1)) * t)
    return (0.3 * tones + 0.05 * rng.standard_normal((n, t.size))).astype(np.float32)


def test_mel_weights_equal_the_torch_filter_bank() -> None:
    for norm in ("slaney", None):
        expected = mel_filterbank(sr=22050, n_fft=2048, n_mels=64, f_max_hz=11025.0, norm=norm).numpy()
        np.testing.assert_array_equal(mel_weights(sr=22050, n_fft=2048, n_mels=64, f_max_hz=11025.0, norm=norm), expected)


@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
def test_numpy_input_matches_torch(pad_mode: str) -> None:
    waves = _waves(3)
    exact = musicnn_input(waves, pad_mode=pad_mode, float16_rounding=False).numpy()
    np.testing.assert_allclose(musicnn_input_np(waves, pad_mode=pad_mode, float16_rounding=False), exact, atol=1e-4, rtol=0)
    rounded = musicnn_input(waves, pad_mode=pad_mode).numpy()
    ours = musicnn_input_np(waves, pad_mode=pad_mode)
    assert ours.shape == rounded.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, rounded, atol=2e-3, rtol=0)  # a float16 rounding may flip by one step
    assert np.mean(np.abs(ours - rounded) > 1e-5) < 0.01  # flips are rare; the rest differ by float32 rounding


def test_window_patches_are_the_first_patch_of_each_window() -> None:
    waves = _waves(2)
    patches = musicnn_window_patches(waves)
    assert patches.shape == (2, MUSICNN_N_FRAMES, 96)
    np.testing.assert_array_equal(patches, musicnn_input_np(waves)[..., :MUSICNN_N_FRAMES].transpose(0, 2, 1))
    assert musicnn_window_patches(waves[:, :MUSICNN_MIN_WINDOW_LENGTH]).shape == (2, MUSICNN_N_FRAMES, 96)


def test_bad_windows_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="at least"):
        musicnn_window_patches(np.zeros((1, MUSICNN_MIN_WINDOW_LENGTH - 1), np.float32))
    bad = _waves(1)
    bad[0, 5] = np.nan
    with pytest.raises(InvalidParameterError, match="NaN"):
        musicnn_window_patches(bad)
    with pytest.raises(InvalidParameterError, match="shape"):
        musicnn_window_patches(np.zeros(MUSICNN_WINDOW_LENGTH, np.float32))
