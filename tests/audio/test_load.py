"""load_audio and probe_audio on every format, every kind of source, spans and rates."""

from __future__ import annotations

import io
import math

import librosa
import numpy as np
import pytest
import soundfile as sf

from genrekit.audio import load_audio, probe_audio
from genrekit.errors import InvalidParameterError
from tests.audio.signals import FREQ_HZ, LEFT_AMP, RIGHT_AMP, SR, peak_frequency_hz, stereo_sine

# name -> (native rate (Hz), channels, duration tolerance (s)); lossy codecs add priming/padding.
FORMATS = {
    "wav": (SR, 2, 0.0),
    "wav_float": (SR, 2, 0.0),
    "flac": (SR, 2, 0.0),
    "ogg": (SR, 2, 0.0),
    "aiff": (SR, 2, 0.0),
    "au": (SR, 2, 0.0),
    "mp3": (SR, 2, 0.0),
    "opus": (48000, 2, 0.0),
    "m4a": (SR, 2, 0.0),
    "aac": (SR, 2, 0.06),  # raw ADTS carries no gapless info: 1024+ priming samples stay
    "mp4": (SR, 2, 0.0),
    "webm": (48000, 2, 0.02),
    "mkv": (SR, 2, 0.0),
    "wma": (SR, 2, 0.1),
}
LOSSLESS = ("wav", "wav_float", "flac", "aiff", "au")


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_decodes_to_the_sine(encoded, name):
    native_sr, n_channels, tolerance_s = FORMATS[name]
    info = probe_audio(encoded[name])
    assert info.sr == native_sr
    assert info.n_channels == n_channels
    assert info.duration_s == pytest.approx(1.0, abs=tolerance_s + 0.011)

    y, sr = load_audio(encoded[name], sr=16000)
    assert sr == 16000
    assert y.dtype == np.float32 and y.ndim == 1 and y.flags.c_contiguous and y.flags.writeable
    assert len(y) / sr == pytest.approx(1.0, abs=tolerance_s + 1 / 16000)
    assert peak_frequency_hz(y, sr) == pytest.approx(FREQ_HZ, abs=2.0)
    # Mono is the mean of the channels: amplitude (0.5 + 0.25) / 2.
    middle = y[len(y) // 4 : 3 * len(y) // 4]
    assert np.max(np.abs(middle)) == pytest.approx((LEFT_AMP + RIGHT_AMP) / 2, abs=0.03)


@pytest.mark.parametrize("name", LOSSLESS)
def test_lossless_formats_are_exact_at_the_native_rate(encoded, name):
    y, sr = load_audio(encoded[name], mono=False)
    assert sr == SR and y.shape == (2, SR)
    np.testing.assert_allclose(y, stereo_sine().T, rtol=0, atol=1 / 32768 + 1e-7)


@pytest.mark.parametrize("name", ["wav", "flac", "mp3", "ogg"])
@pytest.mark.parametrize("target_sr", [16000, 22050])
def test_matches_librosa_load(encoded, name, target_sr):
    """Same samples as librosa.load (soundfile + soxr_hq) within 1e-6 (in practice identical)."""
    ours, sr = load_audio(encoded[name], sr=target_sr)
    ref, ref_sr = librosa.load(encoded[name], sr=target_sr)
    assert sr == ref_sr and ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)


def test_matches_librosa_load_stereo_with_offset_and_duration(encoded):
    ours, _ = load_audio(encoded["flac"], sr=22050, mono=False, offset=0.25, duration=0.5)
    ref, _ = librosa.load(encoded["flac"], sr=22050, mono=False, offset=0.25, duration=0.5)
    assert ours.shape == ref.shape == (2, 11025)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)


def test_native_rate_and_channel_layout(encoded):
    y, sr = load_audio(encoded["wav"])
    assert sr == SR and y.shape == (SR,)
    stereo, _ = load_audio(encoded["wav"], mono=False)
    assert stereo.shape == (2, SR)
    np.testing.assert_allclose(stereo.mean(axis=0), y, atol=1e-7)
    resampled, _ = load_audio(encoded["mp4"], mono=False, sr=8000)
    assert resampled.shape == (2, 8000)


def test_one_channel_file_keeps_a_channel_axis_when_not_downmixed(tmp_path):
    path = tmp_path / "mono.wav"
    sf.write(path, stereo_sine()[:, 0], SR)
    y, _ = load_audio(path, mono=False)
    assert y.shape == (1, SR)
    y, _ = load_audio(path)
    assert y.shape == (SR,)


class _Stream(io.RawIOBase):
    """A binary stream that cannot seek (like a socket or a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("name", ["flac", "mp3", "m4a", "webm"])
def test_bytes_and_file_objects_equal_the_path(encoded, name):
    path = encoded[name]
    data = path.read_bytes()
    expected, _ = load_audio(path, sr=16000)
    for source in (
        str(path),
        data,
        bytearray(data),
        memoryview(data),
        io.BytesIO(data),
        _Stream(data),
        io.BufferedReader(_Stream(data)),
    ):
        y, sr = load_audio(source, sr=16000)
        assert sr == 16000
        np.testing.assert_array_equal(y, expected)
    with open(path, "rb") as handle:
        y, _ = load_audio(handle, sr=16000)
    np.testing.assert_array_equal(y, expected)


def test_file_object_not_at_its_start_is_read_from_its_position(encoded):
    data = encoded["wav"].read_bytes()
    handle = io.BytesIO(b"JUNK" + data)
    handle.read(4)
    y, _ = load_audio(handle)
    expected, _ = load_audio(data)
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("name", ["wav", "flac", "mp3", "ogg", "m4a", "webm", "opus"])
def test_offset_and_duration_select_the_same_samples_as_slicing(encoded, name):
    full, sr = load_audio(encoded[name])
    offset_s, duration_s = 0.3, 0.4
    part, part_sr = load_audio(encoded[name], offset=offset_s, duration=duration_s)
    start = int(round(offset_s * sr))
    assert part_sr == sr and len(part) == int(round(duration_s * sr))
    np.testing.assert_allclose(part, full[start : start + len(part)], rtol=0, atol=1e-6)


def test_duration_past_the_end_stops_at_the_end(encoded):
    y, sr = load_audio(encoded["wav"], offset=0.75, duration=10.0)
    assert len(y) == SR - int(round(0.75 * SR))
    y, sr = load_audio(encoded["m4a"], offset=0.75, duration=10.0)
    assert len(y) == pytest.approx(SR / 4, abs=2)


def test_resampled_span_length(encoded):
    y, sr = load_audio(encoded["flac"], sr=22050, offset=0.1, duration=0.5)
    assert len(y) == math.ceil(int(round(0.5 * SR)) * 22050 / SR)


def test_probe_fields(encoded):
    info = probe_audio(encoded["flac"])
    assert (info.format, info.codec, info.n_frames, info.duration_s) == ("flac", "pcm_16", SR, 1.0)
    assert info.to_dict()["sr"] == SR
    info = probe_audio(encoded["m4a"].read_bytes())
    assert (info.format, info.codec, info.n_frames) == ("m4a", "aac", None)
    assert probe_audio(encoded["mkv"]).codec == "vorbis"
    assert probe_audio(encoded["opus"]).codec == "opus"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sr": 0},
        {"sr": -22050},
        {"sr": float("nan")},
        {"offset": -1.0},
        {"offset": float("inf")},
        {"duration": 0.0},
        {"duration": -2.0},
        {"max_duration_s": 0},
        {"max_duration_s": "10"},
    ],
)
def test_bad_parameters(encoded, kwargs):
    with pytest.raises(InvalidParameterError):
        load_audio(encoded["wav"], **kwargs)


@pytest.mark.parametrize("source", [123, 4.5, None, ["a.wav"], io.StringIO("text")])
def test_bad_source_kinds(source):
    with pytest.raises(InvalidParameterError):
        load_audio(source)


def test_unrecognised_header_falls_back_to_ffmpeg(encoded):
    """An MP3 stream behind zero padding (no magic bytes at the start) still decodes."""
    data = encoded["mp3"].read_bytes()
    tag_bytes = 10 + (data[6] << 21 | data[7] << 14 | data[8] << 7 | data[9])
    y, sr = load_audio(b"\x00" * 300 + data[tag_bytes:], sr=16000)
    assert len(y) / sr == pytest.approx(1.0, abs=0.06)
    assert peak_frequency_hz(y, sr) == pytest.approx(FREQ_HZ, abs=2.0)


def test_far_offsets_in_ffmpeg_formats_land_within_one_codec_frame(tmp_path, monkeypatch):
    """Beyond FAST_SEEK_MIN_S ffmpeg seeks (with pre-roll) instead of decoding from the start."""
    from genrekit.audio import ffmpeg as ffmpeg_module
    from tests.audio.signals import run_ffmpeg

    # A chirp: tonal (AAC's noise substitution would make noise differ after a seek) and
    # never periodic, so the alignment is unambiguous.
    t = np.arange(3 * SR) / SR
    chirp = 0.4 * np.sin(2 * np.pi * (200 * t + 300 * t**2))
    sf.write(tmp_path / "chirp.flac", chirp.astype(np.float32), SR)
    path = tmp_path / "chirp.m4a"
    run_ffmpeg("-i", str(tmp_path / "chirp.flac"), "-c:a", "aac", "-b:a", "192k", str(path))
    full, sr = load_audio(path)
    monkeypatch.setattr(ffmpeg_module, "FAST_SEEK_MIN_S", 0.5)
    monkeypatch.setattr(ffmpeg_module, "SEEK_PREROLL_S", 0.5)
    offset_s = 1.7
    part, _ = load_audio(path, offset=offset_s, duration=0.5)
    assert len(part) == int(round(0.5 * sr))
    start = int(round(offset_s * sr))
    errors = {lag: np.max(np.abs(part[:4000] - full[start + lag : start + lag + 4000])) for lag in range(-2048, 2049)}
    best = min(errors, key=errors.get)
    assert abs(best) <= 1024  # one AAC frame
    assert errors[best] < 1e-3
