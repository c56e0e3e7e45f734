"""The one windowing (serving, training, validation, evaluation): regular windows every hop, an
end-aligned closing window where the last regular one stops short, one zero-padded window for
a short input."""

from __future__ import annotations

import numpy as np
import pytest

from genrekit.audio.windows import slice_windows
from genrekit.errors import InvalidParameterError


def test_regular_windows_and_an_end_aligned_closing_window() -> None:
    wave = np.arange(1, 3501, dtype=np.float32)
    starts, n_valid, windows = slice_windows(wave, window_length=1000, hop_length=1000)
    assert starts.tolist() == [0, 1000, 2000, 2500] and n_valid.tolist() == [1000] * 4
    np.testing.assert_array_equal(windows[1], wave[1000:2000])
    np.testing.assert_array_equal(windows[3], wave[2500:])  # the tail, no zero padding


def test_exact_fit_short_input_and_overlap() -> None:
    assert slice_windows(np.ones(3000, np.float32), window_length=1000, hop_length=1000)[0].tolist() == [0, 1000, 2000]
    starts, n_valid, short = slice_windows(np.ones(10, np.float32), window_length=16, hop_length=8)
    assert starts.tolist() == [0] and n_valid.tolist() == [10]
    assert short.shape == (1, 16) and short.sum() == 10.0
    wave = np.arange(3500, dtype=np.float32)
    starts, _, overlapping = slice_windows(wave, window_length=1000, hop_length=250)
    assert starts.tolist() == list(range(0, 2501, 250))
    np.testing.assert_array_equal(overlapping[-1], wave[2500:3500])
    assert slice_windows(np.zeros(0, np.float32), window_length=10, hop_length=5)[2].shape == (0, 10)


@pytest.mark.parametrize("length,hop", [(0, 10), (10, 0)])
def test_bad_lengths_raise(length: int, hop: int) -> None:
    with pytest.raises(InvalidParameterError, match="window_length and hop_length"):
        slice_windows(np.zeros(100, np.float32), window_length=length, hop_length=hop)
