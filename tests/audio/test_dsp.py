"""Pure helpers: resample, to_mono, levels."""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest

from genrekit.audio import is_silent, peak_dbfs, resample, to_mono
from genrekit.errors import InvalidParameterError

RNG = np.random.default_rng(42)


@pytest.mark.parametrize(("orig_sr", "target_sr"), [(44100, 16000), (44100, 22050), (22050, 16000), (16000, 48000)])
def test_resample_matches_librosa_soxr_hq(orig_sr, target_sr):
    y = (0.3 * RNG.standard_normal(orig_sr // 2 + 17)).astype(np.float32)
    ours = resample(y, orig_sr, target_sr)
    ref = librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq")
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape == (math.ceil(len(y) * target_sr / orig_sr),)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)


def test_resample_keeps_a_sine_frequency():
    sr, target = 44100, 16000
    t = np.arange(sr) / sr
    y = np.sin(2 * np.pi * 1000.0 * t).astype(np.float32)
    out = resample(y, sr, target)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    assert np.argmax(spectrum) * target / len(out) == pytest.approx(1000.0, abs=1.0)
    assert np.max(np.abs(out[1000:-1000])) == pytest.approx(1.0, abs=0.01)


def test_resample_any_leading_shape_equals_row_by_row():
    y = RNG.standard_normal((2, 3, 5000)).astype(np.float32)
    batch = resample(y, 22050, 16000)
    assert batch.shape == (2, 3, math.ceil(5000 * 16000 / 22050))
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(batch[i, j], resample(y[i, j], 22050, 16000), rtol=0, atol=1e-7)


def test_resample_dtypes_and_identity():
    y64 = RNG.standard_normal(1000)
    assert resample(y64, 8000, 16000).dtype == np.float64
    assert resample((y64 * 1000).astype(np.int16), 8000, 16000).dtype == np.float32
    y = RNG.standard_normal(100).astype(np.float32)
    assert resample(y, 16000, 16000) is y
    assert resample(np.zeros((2, 0), np.float32), 44100, 16000).shape == (2, 0)


@pytest.mark.parametrize("bad", [0, -16000, float("nan"), float("inf"), "16000", None, True])
def test_resample_rejects_bad_rates(bad):
    with pytest.raises(InvalidParameterError):
        resample(np.zeros(10, np.float32), bad, 16000)
    with pytest.raises(InvalidParameterError):
        resample(np.zeros(10, np.float32), 16000, bad)


def test_resample_rejects_scalars():
    with pytest.raises(InvalidParameterError):
        resample(np.float32(1.0), 8000, 16000)


def test_to_mono_is_the_channel_mean_like_librosa():
    y = RNG.standard_normal((2, 1000)).astype(np.float32)
    mono = to_mono(y)
    assert mono.shape == (1000,) and mono.dtype == np.float32
    np.testing.assert_array_equal(mono, librosa.to_mono(y))
    np.testing.assert_allclose(to_mono(np.array([[1.0, -1.0], [0.0, 1.0], [2.0, 0.0]], np.float32)), [1.0, 0.0])
    same = RNG.standard_normal(10).astype(np.float32)
    assert to_mono(same) is same


def test_to_mono_rejects_more_than_two_axes():
    with pytest.raises(InvalidParameterError):
        to_mono(np.zeros((2, 2, 10), np.float32))


def test_levels():
    assert peak_dbfs(np.array([0.5, -0.25], np.float32)) == pytest.approx(-6.0206, abs=1e-4)
    assert peak_dbfs(np.zeros(10, np.float32)) == float("-inf")
    assert peak_dbfs(np.zeros(0, np.float32)) == float("-inf")
    assert is_silent(np.full(10, 1e-5, np.float32))  # -100 dBFS
    assert not is_silent(np.full(10, 1e-4, np.float32))  # -80 dBFS
    assert is_silent(np.full(10, 1e-3, np.float32), threshold_dbfs=-40.0)
