"""announced_n_frames: the length a container's header states, from its first bytes."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf

from genrekit.audio import SNIFF_BYTES, identify_content
from genrekit.audio.header import announced_n_frames

N_FRAMES = 12345  # frames written by the round-trip test


def _wav(fmt: bytes, data_bytes: int, *, extra_chunks: bytes = b"", body: bytes = b"") -> bytes:
    fmt_chunk = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    riff = b"WAVE" + fmt_chunk + extra_chunks + b"data" + struct.pack("<I", data_bytes)
    return b"RIFF" + struct.pack("<I", len(riff) + len(body)) + riff + body


def _pcm_fmt(n_channels: int, bits: int, sr: int = 8000, tag: int = 1) -> bytes:
    block_align = n_channels * bits // 8
    return struct.pack("<HHIIHH", tag, n_channels, sr, sr * block_align, block_align, bits)


@pytest.mark.parametrize(
    ("fmt", "subtype"),
    [
        ("WAV", "PCM_16"),
        ("WAV", "FLOAT"),
        ("WAV", "ULAW"),
        ("WAV", "IMA_ADPCM"),
        ("WAV", "MS_ADPCM"),
        ("WAVEX", "PCM_24"),
        ("RF64", "PCM_16"),
        ("W64", "PCM_16"),
        ("AIFF", "PCM_16"),
        ("AIFF", "FLOAT"),
        ("AU", "PCM_16"),
        ("AU", "ALAW"),
    ],
)
def test_matches_what_libsndfile_writes(fmt: str, subtype: str) -> None:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros((N_FRAMES, 2), np.float32), 8000, format=fmt, subtype=subtype)
    data = buffer.getvalue()
    kind = identify_content(data[:SNIFF_BYTES])
    expected = sf.info(io.BytesIO(data)).frames  # the whole file: libsndfile's count is the header's
    assert announced_n_frames(data[:SNIFF_BYTES], kind) == expected
    # Only the header is read: cutting the body changes nothing.
    assert announced_n_frames(data[:200], kind) == expected


def test_wav_frames_come_from_the_data_size_over_the_frame_size() -> None:
    header = _wav(_pcm_fmt(2, 16), 88200)  # 16-bit stereo: 4 bytes per frame
    assert announced_n_frames(header, "wav") == 88200 // 4
    odd_chunk = b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd size, padded to even
    assert announced_n_frames(_wav(_pcm_fmt(1, 24), 3000, extra_chunks=odd_chunk), "wav") == 1000


def test_adpcm_wav_counts_whole_blocks_and_other_codecs_are_unknown() -> None:
    adpcm = struct.pack("<HHIIHHHH", 0x11, 1, 8000, 4055, 256, 4, 2, 505)  # 505 frames per 256-byte block
    fact = b"fact" + struct.pack("<II", 4, 9999)
    assert announced_n_frames(_wav(adpcm, 256 * 20 + 100, extra_chunks=fact), "wav") == 505 * 20
    gsm = struct.pack("<HHIIHHHH", 0x31, 1, 8000, 1625, 65, 0, 2, 320)
    assert announced_n_frames(_wav(gsm, 6500, extra_chunks=fact), "wav") is None  # fact chunks are not trusted


@pytest.mark.parametrize("placeholder", [0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000])
def test_streaming_placeholders_mean_unknown(placeholder: int) -> None:
    assert announced_n_frames(_wav(_pcm_fmt(1, 16), placeholder), "wav") is None
    au = b".snd" + struct.pack(">IIIII", 24, placeholder, 3, 8000, 1)
    assert announced_n_frames(au, "au") is None


def test_unknown_or_unreadable_headers_give_none() -> None:
    header = _wav(_pcm_fmt(1, 16), 1000)
    assert announced_n_frames(header, "flac") is None  # only uncompressed containers
    assert announced_n_frames(header[:30], "wav") is None  # the data chunk is not in view
    big_list = b"LIST" + struct.pack("<I", 10_000)  # the data chunk starts past the header
    assert announced_n_frames(_wav(_pcm_fmt(1, 16), 1000, extra_chunks=big_list)[:SNIFF_BYTES], "wav") is None
    assert announced_n_frames(b"RIFF\x00\x00\x00\x00WAVEdata\x10\x00\x00\x00", "wav") is None  # no fmt chunk
    assert announced_n_frames(_wav(_pcm_fmt(1, 16)[:8], 1000), "wav") is None  # fmt chunk too short
    assert announced_n_frames(b".snd\x00", "au") is None
