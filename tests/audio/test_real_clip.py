"""A real GTZAN clip from the shared data: 44.1 kHz stereo classical -> mono 22.05 kHz."""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
import soundfile as sf

from genrekit.audio import iter_audio_blocks, load_audio, probe_audio

CLIP = "gtzan-dev/valid/classical/classical.00003.flac"  # 15 s, 44.1 kHz, stereo


@pytest.mark.shared_data
def test_real_stereo_clip_to_mono_22050(shared_data):
    path = shared_data / CLIP
    info = probe_audio(path)
    assert (info.sr, info.n_channels, info.format) == (44100, 2, "flac")
    n_native = sf.info(path).frames
    assert info.n_frames == n_native and info.duration_s == pytest.approx(15.05, abs=0.1)

    y, sr = load_audio(path, sr=22050)
    assert sr == 22050 and y.dtype == np.float32
    assert y.shape == (math.ceil(n_native * 22050 / 44100),)
    ref, _ = librosa.load(path, sr=22050)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-6)
    assert 0.01 < np.max(np.abs(y)) <= 1.0

    streamed = np.concatenate(list(iter_audio_blocks(path, 22050, block_s=4.0)))
    np.testing.assert_array_equal(streamed, y)
