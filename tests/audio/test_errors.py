"""Bad input: every failure is a typed genrekit error that names the input; nothing hangs."""

from __future__ import annotations

import io
import logging
import struct
import subprocess
import zipfile

import numpy as np
import pytest
import soundfile as sf

from genrekit import settings
from genrekit.audio import MIN_DECODED_FRACTION, iter_audio_blocks, load_audio, probe_audio
from genrekit.audio import decode as decode_module
from genrekit.audio import ffmpeg as ffmpeg_module
from genrekit.errors import (
    AudioDecodeError,
    AudioError,
    AudioTooLongError,
    EmptyAudioError,
    GenrekitError,
    NotAudioError,
    UnsupportedFormatError,
)
from tests.audio.signals import SR, run_ffmpeg, write_noise_flac

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("song.mp3", b"not really")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("cover.mp3", PNG),
        ("cover.wav", PNG),
        ("notes.wav", b"This is a text file, not a song.\n" * 20),
        ("page.mp3", b"<!DOCTYPE html><html><body>404</body></html>"),
        ("playlist.m4a", b"#EXTM3U\n#EXTINF:123,Song\nhttp://example.com/a.mp3\n"),
        ("album.mp3", _zip_bytes()),
        ("doc.flac", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),
        ("program.ogg", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56),
    ],
)
def test_not_audio_whatever_the_extension(tmp_path, filename, content):
    path = tmp_path / filename
    path.write_bytes(content)
    with pytest.raises(NotAudioError, match=filename):
        load_audio(path)
    with pytest.raises(NotAudioError):
        load_audio(content)
    with pytest.raises(NotAudioError):
        probe_audio(path)


def test_random_bytes_are_not_audio(tmp_path):
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(NotAudioError, match="noise.mp3"):
        load_audio(path)


@pytest.mark.parametrize(
    ("source", "fake_name"),
    [("wav", "really_a_wav.mp3"), ("mp3", "really_an_mp3.wav"), ("m4a", "really_an_m4a.ogg"), ("flac", "a_flac.aac")],
)
def test_valid_audio_with_the_wrong_extension_decodes(encoded, tmp_path, source, fake_name):
    path = tmp_path / fake_name
    path.write_bytes(encoded[source].read_bytes())
    y, sr = load_audio(path, sr=16000)
    expected, _ = load_audio(encoded[source], sr=16000)
    np.testing.assert_array_equal(y, expected)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp3"
    path.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="empty.mp3"):
        load_audio(path)
    with pytest.raises(EmptyAudioError):
        load_audio(b"")
    with pytest.raises(EmptyAudioError):
        probe_audio(io.BytesIO())


def test_zero_length_wav(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros((0, 2), np.float32), SR)
    assert probe_audio(path).duration_s == 0.0  # a valid header is described ...
    with pytest.raises(EmptyAudioError, match="zero.wav"):  # ... but holds nothing to decode
        load_audio(path)


def test_silent_wav(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(SR, np.float32), SR)
    with pytest.raises(EmptyAudioError, match="silent"):
        load_audio(path)
    y, sr = load_audio(path, sr=16000, allow_silent=True)
    assert y.shape == (16000,) and not y.any()
    # One LSB of 16-bit dither (-90.3 dBFS) is still silence; -80 dBFS is not.
    sf.write(path, np.full(SR, 1 / 32768, np.float32), SR, subtype="PCM_16")
    with pytest.raises(EmptyAudioError):
        load_audio(path)
    sf.write(path, np.full(SR, 1e-4, np.float32), SR, subtype="FLOAT")
    assert load_audio(path)[0].shape == (SR,)


def test_offset_past_the_end(encoded):
    with pytest.raises(EmptyAudioError, match="offset"):
        load_audio(encoded["wav"], offset=2.0)
    with pytest.raises(EmptyAudioError, match="offset"):
        load_audio(encoded["m4a"], offset=5.0)


def test_too_long_is_refused_before_decoding(encoded, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoding started")

    monkeypatch.setattr(decode_module, "_native_chunks", no_decoding)
    for name in ("wav", "m4a"):
        with pytest.raises(AudioTooLongError, match=r"maximum of 0\.5 s"):
            load_audio(encoded[name], max_duration_s=0.5)


def test_limit_applies_to_the_decoded_span(encoded):
    y, _ = load_audio(encoded["wav"], duration=0.4, max_duration_s=0.5)
    assert len(y) == int(round(0.4 * SR))
    assert len(load_audio(encoded["wav"], max_duration_s=None)[0]) == SR


def test_too_long_is_caught_while_decoding_when_the_header_cannot_tell(encoded, monkeypatch):
    real_probe = ffmpeg_module.probe

    def probe_without_duration(*args, **kwargs):
        found = real_probe(*args, **kwargs)
        return ffmpeg_module.FfmpegProbe(found.sr, found.n_channels, None, found.container, found.codec)

    monkeypatch.setattr(ffmpeg_module, "probe", probe_without_duration)
    with pytest.raises(AudioTooLongError):
        load_audio(encoded["m4a"], max_duration_s=0.5)


def test_default_limit_from_the_environment(monkeypatch):
    monkeypatch.delenv(settings.MAX_DURATION_ENV, raising=False)
    assert settings.max_duration_s() == 1200.0
    monkeypatch.setenv(settings.MAX_DURATION_ENV, "90")
    assert settings.max_duration_s() == 90.0
    monkeypatch.setenv(settings.MAX_DURATION_ENV, "none")
    assert settings.max_duration_s() is None
    for bad in ("ten minutes", "-5"):
        monkeypatch.setenv(settings.MAX_DURATION_ENV, bad)
        with pytest.raises(GenrekitError, match=settings.MAX_DURATION_ENV):
            settings.max_duration_s()


def test_truncated_flac_decodes_what_it_can(tmp_path, caplog):
    full_path = write_noise_flac(tmp_path / "full.flac", 2.0)
    data = full_path.read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    with caplog.at_level(logging.WARNING, logger="genrekit.audio.decode"):
        y, sr = load_audio(cut)
    assert 1.0 <= len(y) / sr < 1.75
    full, _ = load_audio(full_path)
    np.testing.assert_array_equal(y[: len(y) // 2], full[: len(y) // 2])
    assert "cut.flac" in caplog.text

    cut.write_bytes(data[: int(len(data) * 0.3)])  # most of it missing
    with pytest.raises(AudioDecodeError, match="cut.flac"):
        load_audio(cut)


def test_truncated_mp3(encoded, tmp_path):
    path = tmp_path / "long.mp3"
    write_noise_flac(tmp_path / "noise.flac", 3.0)
    run_ffmpeg("-i", str(tmp_path / "noise.flac"), "-c:a", "libmp3lame", "-b:a", "128k", str(path))
    data = path.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    y, sr = load_audio(cut)
    assert MIN_DECODED_FRACTION * 3.0 <= len(y) / sr < 2.7
    cut.write_bytes(data[:700])  # tags and headers, no music
    with pytest.raises(AudioDecodeError, match="cut.mp3"):
        load_audio(cut)


@pytest.mark.parametrize("name", ["flac", "mp3", "wav", "ogg", "m4a"])
def test_header_with_a_garbage_body_raises(encoded, tmp_path, name):
    data = encoded[name].read_bytes()
    keep = {"wav": 44, "flac": 100, "mp3": 700, "ogg": 200, "m4a": 64}[name]
    garbage = np.random.default_rng(1).integers(0, 256, len(data), dtype=np.uint8).tobytes()
    path = tmp_path / f"garbage.{name}"
    path.write_bytes(data[:keep] + garbage)
    if name == "wav":  # PCM has no structure to break: garbage decodes as (loud) noise
        assert load_audio(path)[0].shape == (SR,)  # the length the header announces
        return
    with pytest.raises(AudioDecodeError, match=f"garbage.{name}"):
        load_audio(path)


def test_midi_is_unsupported(tmp_path):
    path = tmp_path / "song.mid"
    path.write_bytes(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x04\x00\xff\x2f\x00")
    with pytest.raises(UnsupportedFormatError, match="song.mid"):
        load_audio(path)


def test_unknown_codec_in_wav_is_unsupported(tmp_path):
    fmt = struct.pack("<HHIIHH", 0x1234, 1, 8000, 8000, 1, 8)
    body = bytes(range(256)) * 40
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(body)) + body
    path = tmp_path / "odd.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    with pytest.raises(UnsupportedFormatError, match="odd.wav"):
        load_audio(path)


def test_video_without_sound_is_not_audio(tmp_path):
    path = tmp_path / "silent_film.mp4"
    video = ["-f", "lavfi", "-i", "color=c=black:s=32x32:r=5:d=1", "-c:v", "libx264", "-pix_fmt", "yuv420p"]
    run_ffmpeg(*video, str(path))
    with pytest.raises(NotAudioError, match="no audio stream"):
        load_audio(path)


def test_missing_and_unreadable_paths(tmp_path):
    with pytest.raises(AudioError, match="nope.wav"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="cannot read"):
        load_audio(tmp_path)


def test_nan_samples_are_refused(tmp_path):
    path = tmp_path / "nan.wav"
    y = np.full(1000, 0.1, np.float32)
    y[500] = np.nan
    sf.write(path, y, 8000, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match="NaN"):
        load_audio(path)


def test_ffmpeg_that_stops_talking_is_killed():
    process = subprocess.Popen(["sleep", "30"], stdout=subprocess.PIPE)
    try:
        pipe = ffmpeg_module._Pipe(process, "stuck.m4a", timeout_s=0.2)
        with pytest.raises(AudioDecodeError, match="stuck.m4a"):
            pipe.read(100)
        assert process.wait(timeout=5) != 0
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def test_damaged_files_only_raise_genrekit_errors(encoded, tmp_path):
    """Fuzz: flipped bytes, cut files and spliced headers decode or raise a GenrekitError."""
    rng = np.random.default_rng(7)
    outcomes = {"decoded": 0, "refused": 0}
    for name in ("wav", "flac", "mp3", "ogg", "opus", "m4a", "webm"):
        data = bytearray(encoded[name].read_bytes())
        for trial in range(4):
            damaged = bytearray(data)
            if trial == 0:
                positions = rng.integers(0, min(len(damaged), 256), 8)
            else:
                positions = rng.integers(0, len(damaged), 40)
            for pos in positions:
                damaged[pos] = int(rng.integers(0, 256))
            if trial == 3:
                damaged = damaged[: int(rng.integers(8, len(damaged)))]
            try:
                y, _ = load_audio(bytes(damaged), sr=16000)
            except GenrekitError as error:
                assert str(error)
                outcomes["refused"] += 1
            else:
                assert y.dtype == np.float32 and y.ndim == 1 and np.isfinite(y).all()
                outcomes["decoded"] += 1
    assert sum(outcomes.values()) == 28
    assert outcomes["refused"] > 0 and outcomes["decoded"] > 0


def _cut(fmt: str, subtype: str, fraction: float, duration_s: float = 2.0, sr: int = 22050) -> bytes:
    t = np.arange(int(duration_s * sr)) / sr
    buffer = io.BytesIO()
    sf.write(buffer, (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32), sr, format=fmt, subtype=subtype)
    data = buffer.getvalue()
    return data[: int(len(data) * fraction)]


def test_a_wav_cut_to_60_bytes_is_refused():
    # Reported by the service: the header announces 2 s, the 16 bytes of body are 8 frames.
    data = _cut("WAV", "PCM_16", 1.0)[:60]
    assert sf.info(io.BytesIO(data)).frames == 8  # libsndfile alone sees a short, whole file
    with pytest.raises(AudioDecodeError, match=r"only 0\.00 s of the 2\.00 s"):
        load_audio(data, sr=16000)
    with pytest.raises(AudioDecodeError):
        load_audio(data[:44])  # the header alone, no samples at all
    assert probe_audio(data).duration_s == pytest.approx(2.0)  # what the header says


@pytest.mark.parametrize(
    ("fmt", "subtype"),
    [("WAV", "PCM_16"), ("WAV", "IMA_ADPCM"), ("RF64", "PCM_16"), ("W64", "FLOAT"), ("AIFF", "PCM_24"), ("AU", "ULAW")],
)
def test_truncated_uncompressed_containers_follow_the_policy(fmt, subtype, caplog):
    with caplog.at_level(logging.WARNING, logger="genrekit.audio.decode"):
        y, sr = load_audio(_cut(fmt, subtype, 0.75))
    assert 1.4 <= len(y) / sr <= 1.6
    assert "cut short" in caplog.text and "kept the 1.5" in caplog.text
    with pytest.raises(AudioDecodeError, match="truncated"):
        load_audio(_cut(fmt, subtype, 0.3))
    with pytest.raises(AudioDecodeError, match="truncated"):
        list(iter_audio_blocks(_cut(fmt, subtype, 0.3), block_s=0.5))


def test_a_whole_file_and_a_streamed_wav_are_not_truncated(caplog):
    whole = _cut("WAV", "PCM_16", 1.0)
    streamed = bytearray(whole)
    streamed[40:44] = struct.pack("<I", 0xFFFFFFFF)  # a pipe writer's placeholder data size
    with caplog.at_level(logging.WARNING, logger="genrekit.audio.decode"):
        assert load_audio(whole)[0].shape == (44100,)
        assert load_audio(bytes(streamed))[0].shape == (44100,)
        cut = bytes(streamed[:10044])  # length unknown: taken as it is
        assert load_audio(cut)[0].shape == (5000,)
    assert caplog.text == ""
