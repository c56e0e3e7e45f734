"""ExcerptReader: seeking reads that match a full decode, padding, and its refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrekit.audio import ExcerptReader, load_audio
from genrekit.errors import AudioDecodeError, AudioTooLongError, InvalidParameterError, NotAudioError
from tests.audio.signals import FFMPEG_ENCODES, ffmpeg_encode

SONG_SR = 44100  # Hz


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """12 s of stereo noise bursts (not periodic, so a misplaced excerpt cannot match) in
    formats libsndfile seeks in, and one it does not (M4A, through ffmpeg)."""
    root = tmp_path_factory.mktemp("songs")
    rng = np.random.default_rng(1)
    n = 12 * SONG_SR
    envelope = np.repeat(rng.uniform(0.05, 0.5, n // 2205 + 1), 2205)[:n]
    y = (rng.standard_normal((n, 2)) * envelope[:, None]).astype(np.float32) * 0.5
    files = {"wav": root / "song.wav", "flac": root / "song.flac", "ogg": root / "song.ogg"}
    sf.write(files["wav"], y, SONG_SR, subtype="PCM_16")
    sf.write(files["flac"], y, SONG_SR, subtype="PCM_16")
    sf.write(files["ogg"], y, SONG_SR, format="OGG", subtype="VORBIS")
    files["mp3"] = ffmpeg_encode(files["wav"], root / "song.mp3", FFMPEG_ENCODES["mp3"][1])
    files["m4a"] = ffmpeg_encode(files["wav"], root / "song.m4a", FFMPEG_ENCODES["m4a"][1])
    return files


@pytest.mark.parametrize("name", ["wav", "flac", "ogg", "mp3"])
@pytest.mark.parametrize("sr", [16000, 22050, 44100])
def test_excerpts_equal_the_same_span_of_a_full_decode(songs: dict[str, Path], name: str, sr: int) -> None:
    full, _ = load_audio(songs[name], sr=sr)
    with ExcerptReader(songs[name], sr) as reader:
        assert reader.seekable and reader.n_samples == len(full)
        assert reader.info.format.startswith(name)
        n = int(1.5 * sr)
        for start in (0, 1, 12345, len(full) // 2 + 7, len(full) - n):
            excerpt = reader.read(start, n)
            assert excerpt.dtype == np.float32 and excerpt.shape == (n,)
            np.testing.assert_allclose(excerpt, full[start : start + n], atol=2e-6)


def test_excerpt_past_the_end_is_zero_padded(songs: dict[str, Path]) -> None:
    full, _ = load_audio(songs["flac"], sr=16000)
    with ExcerptReader(songs["flac"], 16000) as reader:
        tail = reader.read(len(full) - 100, 1000)
        np.testing.assert_allclose(tail[:100], full[-100:], atol=2e-6)
        assert not tail[100:].any()
        assert not reader.read(len(full) + 50, 10).any()


def test_bytes_and_file_objects_are_read_too(songs: dict[str, Path]) -> None:
    data = songs["mp3"].read_bytes()
    with ExcerptReader(songs["mp3"], 16000) as reader:
        expected = reader.read(40000, 4000)
    with ExcerptReader(data, 16000) as reader:
        np.testing.assert_array_equal(reader.read(40000, 4000), expected)
    with open(songs["mp3"], "rb") as handle, ExcerptReader(handle, 16000) as reader:
        np.testing.assert_array_equal(reader.read(40000, 4000), expected)


def test_formats_decoded_by_ffmpeg_are_not_seekable(songs: dict[str, Path]) -> None:
    with ExcerptReader(songs["m4a"], 16000) as reader:
        assert not reader.seekable
        with pytest.raises(InvalidParameterError):
            reader.read(0, 100)


def test_truncated_file_reads_fail_cleanly(songs: dict[str, Path], tmp_path: Path) -> None:
    data = songs["mp3"].read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) // 2])
    with ExcerptReader(cut, 16000) as reader:
        if reader.seekable and reader.n_samples and reader.n_samples > 11 * 16000:
            with pytest.raises(AudioDecodeError):
                reader.read(reader.n_samples - 16000, 8000)
        else:  # libsndfile counted only what is there: reads stay within it
            assert reader.read(0, 8000).shape == (8000,)


def test_refusals(songs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(AudioTooLongError):
        ExcerptReader(songs["wav"], 16000, max_duration_s=5.0)
    text = tmp_path / "notes.mp3"
    text.write_text("not audio at all\n" * 10)
    with pytest.raises(NotAudioError):
        ExcerptReader(text, 16000)
    with ExcerptReader(songs["wav"], 16000) as reader:
        with pytest.raises(InvalidParameterError):
            reader.read(-1, 10)
        with pytest.raises(InvalidParameterError):
            reader.read(0, 0)
    with pytest.raises(InvalidParameterError):
        ExcerptReader(songs["wav"], 0)
