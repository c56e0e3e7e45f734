"""Real-world degradations (genrekit.training.degrade): each op does what its docstring says,
measured on sines and noise, and is reproducible from its random generator."""

from __future__ import annotations

import numpy as np
import pytest

from genrekit.errors import InvalidParameterError
from genrekit.training.degrade import OPS, POLICIES, add_noise, degrade, random_eq, random_gain

SR = 16000


def _sine(hz: float, seconds: float = 3.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _peak_hz(y: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1.0 / SR)[np.argmax(spectrum)])


def _rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_is_float32_reproducible_and_seed_dependent(policy: str) -> None:
    y = _sine(440.0) + 0.05 * np.random.default_rng(1).standard_normal(3 * SR).astype(np.float32)
    first = degrade(y, SR, policy, np.random.default_rng(7))
    again = degrade(y, SR, policy, np.random.default_rng(7))
    other = degrade(y, SR, policy, np.random.default_rng(8))
    assert first.dtype == np.float32 and np.isfinite(first).all()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    if policy not in ("stretch", "mix"):
        assert first.shape == y.shape
    else:
        assert len(y) / 1.1 - 1 <= len(first) <= len(y) / 0.9 + 1


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="unknown degradation"):
        degrade(_sine(440.0), SR, "vinyl", np.random.default_rng(0))


def test_mp3_keeps_the_pitch_and_roughly_the_level() -> None:
    y = _sine(440.0)
    out = OPS["mp3"](y, SR, np.random.default_rng(0))
    assert abs(_peak_hz(out) - 440.0) < 2.0
    assert 0.7 < _rms(out) / _rms(y) < 1.3
    assert not np.allclose(out, y, atol=1e-3)  # it went through a lossy codec


def test_eq_moves_a_mid_band_sine_by_at_most_6_db() -> None:
    y = _sine(1000.0)  # above any low cut (<= 300 Hz), below any high cut (>= 3.5 kHz)
    gains = [20 * np.log10(_rms(random_eq(y, SR, np.random.default_rng(seed))) / _rms(y)) for seed in range(20)]
    assert max(abs(g) for g in gains) <= 6.0 + 0.1
    assert np.std(gains) > 0.5  # it does change the level


def test_eq_high_cut_removes_high_frequencies_when_drawn() -> None:
    y = _sine(7800.0, amplitude=0.3)
    losses = [20 * np.log10(_rms(random_eq(y, SR, np.random.default_rng(seed))) / _rms(y)) for seed in range(20)]
    assert min(losses) < -12.0  # some draws cut above 3.5-7 kHz


def test_gain_stays_in_range_and_clips_at_full_scale() -> None:
    y = _sine(440.0, amplitude=0.25)
    for seed in range(30):
        out = random_gain(y, SR, np.random.default_rng(seed))
        peak_db = 20 * np.log10(np.max(np.abs(out)))
        assert -20.0 - 0.1 <= peak_db <= 0.0 + 1e-6
        assert np.max(np.abs(out)) <= 1.0


@pytest.mark.parametrize("policy, low, high", [("pitch", 2 ** (-2 / 12), 2 ** (2 / 12)), ("stretch", 0.99, 1.01)])
def test_pitch_shift_moves_the_pitch_and_time_stretch_keeps_it(policy: str, low: float, high: float) -> None:
    y = _sine(440.0)
    ratios = [_peak_hz(OPS[policy](y, SR, np.random.default_rng(seed))) / 440.0 for seed in range(6)]
    assert all(low - 0.01 <= r <= high + 0.01 for r in ratios)
    if policy == "pitch":
        assert max(abs(r - 1.0) for r in ratios) > 0.02


def test_noise_lands_between_15_and_35_db_snr_and_keeps_silence_silent() -> None:
    y = _sine(440.0)
    for seed in range(10):
        out = add_noise(y, SR, np.random.default_rng(seed))
        snr = 20 * np.log10(_rms(y) / _rms(out - y))
        assert 15.0 - 0.5 <= snr <= 35.0 + 0.5
    silent = np.zeros(SR, np.float32)
    np.testing.assert_array_equal(add_noise(silent, SR, np.random.default_rng(0)), silent)
