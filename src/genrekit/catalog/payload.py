"""The audio data of a file, apart from its metadata: what tagging must never change.

:func:`audio_payload` returns the bytes that carry the audio in each container genrekit
tags: MPEG audio frames (MP3 without its ID3v2/ID3v1/APEv2 tags), FLAC frames (after the
metadata blocks), the audio packets of an Ogg stream (Vorbis or Opus, header packets
excluded: page headers are renumbered when a comment grows), and the ``mdat`` atoms of an
MP4/M4A file.
"""

from __future__ import annotations

import hashlib
import os
import struct

from genrekit.errors import GenrekitError

ID3V1_BYTES = 128  # "TAG" + 125 bytes at the end of an MP3
APE_FOOTER_BYTES = 32


class PayloadError(GenrekitError):
    """The file's container could not be parsed to find its audio data."""


def _synchsafe(data: bytes) -> int:
    return (data[0] << 21) | (data[1] << 14) | (data[2] << 7) | data[3]


def mp3_payload(data: bytes) -> bytes:
    """MPEG frames of an MP3: without a leading ID3v2 tag, a trailing ID3v1 and APEv2 tag."""
    start, end = 0, len(data)
    while data[start:start + 3] == b"ID3" and end - start >= 10:
        footer = 10 if data[start + 5] & 0x10 else 0
        start += 10 + _synchsafe(data[start + 6:start + 10]) + footer
    if end - start >= ID3V1_BYTES and data[end - ID3V1_BYTES:end - ID3V1_BYTES + 3] == b"TAG":
        end -= ID3V1_BYTES
    if end - start >= APE_FOOTER_BYTES and data[end - APE_FOOTER_BYTES:end - APE_FOOTER_BYTES + 8] == b"APETAGEX":
        size = struct.unpack("<I", data[end - 20:end - 16])[0]
        flags = struct.unpack("<I", data[end - 12:end - 8])[0]
        end -= size + (APE_FOOTER_BYTES if flags & 0x80000000 else 0)
    return data[start:end]


def flac_payload(data: bytes) -> bytes:
    """FLAC frames: everything after the last metadata block."""
    start = 0
    if data[:3] == b"ID3":
        start = 10 + _synchsafe(data[6:10])
    if data[start:start + 4] != b"fLaC":
        raise PayloadError("not a FLAC stream")
    position = start + 4
    while True:
        if position + 4 > len(data):
            raise PayloadError("truncated FLAC metadata")
        header = data[position]
        length = int.from_bytes(data[position + 1:position + 4], "big")
        position += 4 + length
        if header & 0x80:
            return data[position:]


def ogg_packets(data: bytes) -> list[bytes]:
    """The packets of the first logical stream of an Ogg file, in order."""
    packets: list[bytes] = []
    current = bytearray()
    position = 0
    serial = None
    while position < len(data):
        if data[position:position + 4] != b"OggS":
            raise PayloadError(f"no Ogg page at byte {position}")
        n_segments = data[position + 26]
        page_serial = struct.unpack("<I", data[position + 14:position + 18])[0]
        lacing = data[position + 27:position + 27 + n_segments]
        body = position + 27 + n_segments
        if serial is None:
            serial = page_serial
        for size in lacing:
            if page_serial == serial:
                current += data[body:body + size]
                if size < 255:
                    packets.append(bytes(current))
                    current = bytearray()
            body += size
        position = body
    if current:
        packets.append(bytes(current))
    return packets


def ogg_payload(data: bytes) -> bytes:
    """The audio packets of an Ogg Vorbis (3 header packets) or Opus (2) stream, concatenated."""
    packets = ogg_packets(data)
    if not packets:
        raise PayloadError("no Ogg packets")
    n_headers = 2 if packets[0].startswith(b"OpusHead") else 3
    return b"".join(len(p).to_bytes(4, "big") + p for p in packets[n_headers:])


def mp4_payload(data: bytes) -> bytes:
    """The contents of the top-level ``mdat`` atoms of an MP4/M4A file."""
    position, chunks = 0, []
    while position + 8 <= len(data):
        size = struct.unpack(">I", data[position:position + 4])[0]
        kind = data[position + 4:position + 8]
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[position + 8:position + 16])[0]
            header = 16
        elif size == 0:
            size = len(data) - position
        if size < header:
            raise PayloadError(f"bad MP4 atom size at byte {position}")
        if kind == b"mdat":
            chunks.append(data[position + header:position + size])
        position += size
    if not chunks:
        raise PayloadError("no mdat atom")
    return b"".join(chunks)


PAYLOAD_READERS = {"mp3": mp3_payload, "flac": flac_payload, "ogg": ogg_payload, "mp4": mp4_payload}


def audio_payload(path: str | os.PathLike[str], container: str) -> bytes:
    """The audio bytes of a file in ``container`` (a key of :data:`PAYLOAD_READERS`)."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return PAYLOAD_READERS[container](data)
    except (IndexError, struct.error) as error:
        raise PayloadError(f"cannot parse the {container} container: {error}") from error


def payload_digest(path: str | os.PathLike[str], container: str) -> str:
    """SHA-256 of :func:`audio_payload`."""
    return hashlib.sha256(audio_payload(path, container)).hexdigest()
