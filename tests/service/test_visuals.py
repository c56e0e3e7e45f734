"""Pure visuals: waveform peaks and the mel image."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from genrekit.errors import InvalidParameterError
from genrekit.service.work.visuals import (
    DB_MAX,
    DB_MIN,
    DB_RANGE,
    MAX_FRAMES,
    N_FFT,
    compute_visuals,
    mel_image,
    waveform_peaks,
)


def test_peaks_are_the_max_absolute_value_per_bucket() -> None:
    y = np.zeros(1000, dtype=np.float32)
    y[5] = -0.75
    y[999] = 0.25
    peaks = waveform_peaks(y, n_peaks=10)
    expected = np.zeros(10, dtype=np.float32)
    expected[0], expected[9] = 0.75, 0.25
    np.testing.assert_array_equal(peaks, expected)


def test_peaks_clip_and_never_exceed_the_sample_count() -> None:
    assert waveform_peaks(np.array([2.0, -3.0, 0.5], dtype=np.float32)).tolist() == [1.0, 1.0, 0.5]


def test_mel_image_puts_a_tone_in_its_band_and_silence_at_the_bottom() -> None:
    sr = 22050
    y = np.zeros(sr * 2, dtype=np.float32)
    t = np.arange(sr) / sr
    y[sr:] = np.sin(2 * np.pi * 4000.0 * t)  # second half: 4 kHz
    pixels, db_min, db_max = mel_image(y, sr, n_mels=32, max_frames=10)
    assert pixels.shape == (32, 10) and pixels.dtype == np.uint8
    assert db_max - db_min == pytest.approx(DB_RANGE)
    assert pixels[:, :4].max() == 0  # silence maps to pixel 0
    assert pixels.max() == 255
    assert np.argmax(pixels[:, -1]) > 16  # 4 kHz sits in the upper half of 0..11 kHz mel bands


def _tone(amplitude: float, sr: int, duration_s: float = 1.0, bin_index: int = 100) -> np.ndarray:
    """A sine exactly at the centre of FFT bin ``bin_index`` (no scalloping loss)."""
    t = np.arange(int(sr * duration_s)) / sr
    return (amplitude * np.sin(2 * np.pi * bin_index * sr / N_FFT * t)).astype(np.float32)


def _db(pixels: np.ndarray) -> np.ndarray:
    return DB_MIN + pixels.astype(np.float64) / 255.0 * DB_RANGE


def test_mel_image_db_are_relative_to_a_full_scale_sine() -> None:
    sr = 16000
    assert (DB_MIN, DB_MAX) == (-80.0, 0.0)
    loud, db_min, db_max = mel_image(_tone(1.0, sr), sr)
    assert (db_min, db_max) == (DB_MIN, DB_MAX)
    assert loud.max() == 255  # 0 dB, plus at most 1.8 dB of Hann main lobe in the band
    quiet = mel_image(_tone(0.01, sr), sr)[0]  # -40 dBFS
    assert -40.0 - 0.5 <= _db(quiet).max() <= -40.0 + 1.8
    assert np.argmax(quiet.max(axis=1)) == np.argmax(loud.max(axis=1))


def test_mel_image_is_not_scaled_to_the_clip() -> None:
    sr = 22050
    rng = np.random.default_rng(0)
    music = (0.3 * rng.standard_normal(sr * 2) + _tone(0.5, sr, 2.0)).astype(np.float32)
    pixels = mel_image(music, sr)[0]
    softer = mel_image(music / 10.0, sr)[0]  # 20 dB down
    unclipped = (pixels < 255) & (softer > 0)
    assert unclipped.mean() > 0.9
    np.testing.assert_allclose(_db(pixels[unclipped]) - _db(softer[unclipped]), 20.0, atol=DB_RANGE / 255)
    # Near silence (about -80 dBFS) stays dark instead of filling the range.
    hiss = (1e-4 * rng.standard_normal(sr * 2)).astype(np.float32)
    assert mel_image(hiss, sr)[0].max() < 255 * 0.25


def test_mel_image_columns_do_not_depend_on_the_rest_of_the_clip() -> None:
    sr = 16000
    quiet = _tone(0.01, sr, 2.0, bin_index=40)
    burst = _tone(1.0, sr, 2.0, bin_index=300)
    alone = mel_image(np.concatenate([quiet, np.zeros_like(quiet)]), sr)[0]
    with_burst = mel_image(np.concatenate([quiet, burst]), sr)[0]
    n_quiet_frames = quiet.size // N_FFT
    np.testing.assert_array_equal(alone[:, :n_quiet_frames], with_burst[:, :n_quiet_frames])


def test_mel_image_frames_are_capped_and_short_clips_padded() -> None:
    sr = 8000
    long = np.random.default_rng(0).standard_normal(N_FFT * (MAX_FRAMES * 2 + 3)).astype(np.float32) * 0.1
    assert mel_image(long, sr)[0].shape == (64, MAX_FRAMES)
    assert mel_image(np.ones(10, dtype=np.float32), sr)[0].shape == (64, 1)


def test_compute_visuals_shape() -> None:
    sr = 16000
    y = (0.5 * np.sin(2 * np.pi * 440 * np.arange(sr * 3) / sr)).astype(np.float32)
    visuals = compute_visuals(y, sr)
    assert visuals["duration_s"] == pytest.approx(3.0)
    assert len(visuals["peaks"]) == 1000
    mel = visuals["mel"]
    assert len(base64.b64decode(mel["data"])) == mel["n_mels"] * mel["n_frames"]


@pytest.mark.parametrize("bad", [np.zeros(0, dtype=np.float32), np.zeros((2, 100), dtype=np.float32)])
def test_bad_input_is_rejected(bad: np.ndarray) -> None:
    with pytest.raises(InvalidParameterError):
        waveform_peaks(bad)
    with pytest.raises(InvalidParameterError):
        mel_image(bad, 16000)
    with pytest.raises(InvalidParameterError):
        waveform_peaks(np.ones(10, dtype=np.float32), n_peaks=0)
