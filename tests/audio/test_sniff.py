"""Content recognition from magic bytes."""

from __future__ import annotations

import struct

import pytest

from genrekit.audio import AUDIO_FORMATS, NOT_AUDIO_FORMATS, identify_content, sniff_format

EXPECTED_KIND = {
    "wav": "wav",
    "wav_float": "wav",
    "flac": "flac",
    "ogg": "ogg_vorbis",
    "aiff": "aiff",
    "au": "au",
    "mp3": "mp3",
    "opus": "ogg_opus",
    "m4a": "m4a",
    "aac": "aac",
    "mp4": "mp4",
    "webm": "webm",
    "mkv": "matroska",
    "wma": "asf",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_KIND))
def test_encoded_files_are_recognised_from_64_bytes(encoded, name):
    head = encoded[name].read_bytes()
    assert sniff_format(head[:4096]) == EXPECTED_KIND[name]
    # 64 bytes (what the dataset scanner reads) are enough too.
    assert sniff_format(head[:64]) == EXPECTED_KIND[name]


def _mpeg_frame(padding: int = 0) -> bytes:
    # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz: 417 bytes (+1 padded).
    header = bytes([0xFF, 0xFB, 0x90 | (padding << 1), 0x64])
    return header + b"\x00" * (144 * 128000 // 44100 + padding - 4)


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"RF64\xff\xff\xff\xffWAVEds64", "rf64"),
        (b"FORM\x00\x00\x00\x00AIFFCOMM", "aiff"),
        (b"FORM\x00\x00\x00\x00AIFCFVER", "aifc"),
        (b".snd\x00\x00\x00\x18", "au"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x1e" + b"\x01vorbis", "ogg_vorbis"),
        (b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x13" + b"OpusHead", "ogg_opus"),
        (b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x13" + b"\x80theora", "ogg"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x05" + b"\x00" * 5 + b"fLaC", "flac"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3"),
        (_mpeg_frame() + _mpeg_frame(), "mp3"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00", "m4a"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "mp4"),
        (b"\x00\x00\x00\x20ftypqt  \x00\x00\x02\x00", "mov"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "matroska"),
        (bytes([0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC]), "aac"),
        (b"caff\x00\x01\x00\x00", "caf"),
        (b"MThd\x00\x00\x00\x06", "midi"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"GIF89a\x01\x00", "gif"),
        (b"%PDF-1.7\n", "pdf"),
        (b"PK\x03\x04\x14\x00", "zip"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"\x7fELF\x02\x01\x01", "elf"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"\x00\x00\x00\x1cftypheic", "heif"),
        (b"<!DOCTYPE html>\n<html><head>", "html"),
        (b"  <html lang='en'>", "html"),
        (b'<?xml version="1.0"?>\n<svg xmlns=', "svg"),
        (b'<?xml version="1.0"?>\n<root/>', "xml"),
        ("genre,label\nblues,1\nrock — ça va\n".encode(), "text"),
        (b"#EXTM3U\n#EXT-X-VERSION:3\n", "text"),
    ],
)
def test_identify_content(header, kind):
    assert identify_content(header) == kind


def test_sniff_format_keeps_only_audio():
    assert sniff_format(b"\x89PNG\r\n\x1a\n") is None
    assert sniff_format(b"MThd\x00\x00\x00\x06") is None  # MIDI: no waveform
    assert sniff_format(b"hello world\n") is None
    assert sniff_format(b"fLaC\x00\x00\x00\x22") == "flac"


@pytest.mark.parametrize(
    "header",
    [b"", b"\x00" * 64, bytes(range(256)), b"\xff\xff\xff\xff" * 16, bytes([0xFF, 0xFB, 0xF0, 0x00])],
)
def test_unrecognised_bytes_give_none(header):
    assert identify_content(header) is None


def test_mpeg_sync_needs_a_matching_second_frame():
    frame = _mpeg_frame()
    assert identify_content(frame + frame) == "mp3"
    assert identify_content(frame + b"\x00" * 8) is None  # second header missing where expected


def test_id3_tag_before_adts_is_aac():
    header = bytes([0xFF, 0xF1, 0x50, 0x80, 0x01, 0xFF, 0xFC])  # a 15-byte ADTS frame
    adts = (header + b"\x00" * 8) * 2
    tag = b"ID3\x04\x00\x00" + struct.pack(">I", 0)
    assert identify_content(tag + adts) == "aac"
    assert identify_content(adts) == "aac"
    assert identify_content(header + b"\x00" * 10) is None  # no second frame where the first ends


def test_format_sets_are_disjoint():
    assert not AUDIO_FORMATS & NOT_AUDIO_FORMATS
