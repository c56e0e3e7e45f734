"""iter_audio_blocks: same samples as load_audio, fixed block sizes, bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from genrekit.audio import iter_audio_blocks, load_audio
from genrekit.errors import AudioTooLongError, EmptyAudioError, InvalidParameterError, NotAudioError
from tests.audio.signals import run_ffmpeg


@pytest.mark.parametrize("name", ["wav", "flac", "mp3", "m4a", "webm"])
@pytest.mark.parametrize("sr", [None, 16000, 22050])
def test_blocks_concatenate_to_load_audio(encoded, name, sr):
    expected, out_sr = load_audio(encoded[name], sr=sr)
    blocks = list(iter_audio_blocks(encoded[name], sr, block_s=0.1))
    block_frames = int(round(0.1 * out_sr))
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    assert [len(b) for b in blocks[:-1]] == [block_frames] * (len(blocks) - 1)
    assert 0 < len(blocks[-1]) <= block_frames
    np.testing.assert_array_equal(np.concatenate(blocks), expected)


def test_stereo_blocks_with_offset_and_duration(encoded):
    expected, _ = load_audio(encoded["flac"], sr=16000, mono=False, offset=0.2, duration=0.7)
    blocks = list(iter_audio_blocks(encoded["flac"], 16000, block_s=0.25, mono=False, offset=0.2, duration=0.7))
    assert [b.shape for b in blocks] == [(2, 4000), (2, 4000), (2, 3200)]
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), expected)


def test_parameters_are_checked_at_the_call_and_content_when_iterating(encoded, tmp_path):
    with pytest.raises(InvalidParameterError):
        iter_audio_blocks(encoded["wav"], 16000, block_s=0)
    with pytest.raises(InvalidParameterError):
        iter_audio_blocks(encoded["wav"], -1)
    text = tmp_path / "notes.mp3"
    text.write_text("not audio\n")
    blocks = iter_audio_blocks(text, 16000)
    with pytest.raises(NotAudioError):
        next(blocks)


def test_stream_limits_and_empty_input(encoded, tmp_path):
    with pytest.raises(AudioTooLongError):
        list(iter_audio_blocks(encoded["wav"], None, max_duration_s=0.5))
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 8000)
    with pytest.raises(EmptyAudioError):
        list(iter_audio_blocks(empty, 16000))


def test_closing_early_releases_ffmpeg(encoded):
    blocks = iter_audio_blocks(encoded["m4a"], 16000, block_s=0.1)
    first = next(blocks)
    assert len(first) == 1600
    blocks.close()  # kills the ffmpeg subprocess and removes nothing the caller owns
    with pytest.raises(StopIteration):
        next(blocks)


def _peak_traced_bytes(blocks) -> tuple[int, list[int]]:
    tracemalloc.start()
    try:
        sizes = [len(b) for b in blocks]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, sizes


@pytest.mark.slow
def test_ten_minute_files_stream_in_bounded_memory(tmp_path):
    """10 minutes at 16 kHz out would be 38 MB as one array; the stream stays far below."""
    sr_in, duration_s = 8000, 600
    rng = np.random.default_rng(3)
    noise = (0.1 * rng.standard_normal(sr_in * duration_s)).astype(np.float32)
    wav = tmp_path / "long.wav"
    sf.write(wav, noise, sr_in, subtype="PCM_16")
    mka = tmp_path / "long.mka"  # Matroska: decoded by ffmpeg, through the pipe
    run_ffmpeg("-i", str(wav), "-c:a", "flac", str(mka))
    full_bytes = 16000 * duration_s * 4
    for path in (wav, mka):
        peak, sizes = _peak_traced_bytes(iter_audio_blocks(path, 16000, block_s=30.0))
        assert sizes == [480000] * 20
        assert peak < full_bytes / 5, f"{path.name}: peak {peak / 1e6:.1f} MB"
