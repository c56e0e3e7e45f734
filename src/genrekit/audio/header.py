"""The length that an uncompressed container's header announces, read from its first bytes.

libsndfile clamps the frame count of WAV, RF64, W64, AIFF and AU files to the bytes that
are actually present, so a file cut short looks whole to it. :func:`announced_n_frames`
reads the count the header itself states, which the decoder compares with what
libsndfile can decode to tell a truncated file from a short one. Pure functions on
``bytes``.
"""

from __future__ import annotations

import struct

STREAMING_SIZE_32 = 0x7FFFF000  # a 32-bit size at or above this is a placeholder of a streaming writer
_WAV_PCM_TAGS = frozenset({0x0001, 0x0003, 0x0006, 0x0007})  # PCM, IEEE float, A-law, mu-law
_WAV_ADPCM_TAGS = frozenset({0x0002, 0x0011})  # MS ADPCM, IMA ADPCM: fixed frames per block
_WAV_EXTENSIBLE = 0xFFFE
_W64_CHUNK_HEADER_BYTES = 24  # 16-byte GUID + 64-bit size
_W64_RIFF_HEADER_BYTES = 40  # riff GUID + size + wave GUID
_AU_BYTES_PER_SAMPLE = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 27: 1}  # by AU encoding code


def announced_n_frames(header: bytes, kind: str) -> int | None:
    """Frames (samples per channel) that a container's header announces.

    Parameters
    ----------
    header : bytes
        The first bytes of the file (:data:`~genrekit.audio.sniff.SNIFF_BYTES`); the chunks
        that state the length must lie within them.
    kind : str
        The format from :func:`~genrekit.audio.sniff.identify_content`: ``"wav"``,
        ``"rf64"``, ``"w64"``, ``"aiff"``, ``"aifc"`` or ``"au"``; any other gives ``None``.

    Returns
    -------
    int or None
        The announced frame count, or ``None`` where the header does not tell it: a
        streaming placeholder size (``0xFFFFFFFF`` and the like), a WAV codec other than
        PCM, float, A-law, mu-law and MS/IMA ADPCM (``fact`` chunks are not trusted: writers
        disagree on them), a chunk beyond ``header``, or a malformed header.
    """
    try:
        if kind == "wav":
            return _riff_frames(header)
        if kind == "rf64":
            return _rf64_frames(header)
        if kind == "w64":
            return _w64_frames(header)
        if kind in ("aiff", "aifc"):
            return _aiff_frames(header)
        if kind == "au":
            return _au_frames(header)
    except (struct.error, ValueError, ZeroDivisionError):
        return None
    return None


def _riff_chunks(header: bytes, start: int, endian: str) -> dict[bytes, tuple[int, int]]:
    """``{chunk id: (body offset, declared size)}`` of the chunks starting within ``header``."""
    chunks: dict[bytes, tuple[int, int]] = {}
    pos = start
    while pos + 8 <= len(header):
        chunk_id = header[pos : pos + 4]
        (size,) = struct.unpack(endian + "I", header[pos + 4 : pos + 8])
        chunks.setdefault(chunk_id, (pos + 8, size))
        if chunk_id == b"data":
            break
        pos += 8 + size + (size & 1)
    return chunks


def _wav_frames(header: bytes, chunks: dict[bytes, tuple[int, int]], data_bytes: int | None) -> int | None:
    """Frames of a ``WAVE`` body from its ``fmt `` chunk and its data size (bytes)."""
    if b"fmt " not in chunks or data_bytes is None:
        return None
    fmt_at, fmt_size = chunks[b"fmt "]
    if fmt_size < 16 or fmt_at + 16 > len(header):
        return None
    tag, _, _, _, block_align = struct.unpack("<HHIIH", header[fmt_at : fmt_at + 14])
    if tag == _WAV_EXTENSIBLE and fmt_size >= 40 and fmt_at + 26 <= len(header):
        (tag,) = struct.unpack("<H", header[fmt_at + 24 : fmt_at + 26])
    if block_align == 0:
        return None
    if tag in _WAV_PCM_TAGS:
        return data_bytes // block_align
    if tag in _WAV_ADPCM_TAGS and fmt_size >= 20 and fmt_at + 20 <= len(header):
        (frames_per_block,) = struct.unpack("<H", header[fmt_at + 18 : fmt_at + 20])
        return data_bytes // block_align * frames_per_block  # whole blocks only
    return None


def _riff_frames(header: bytes) -> int | None:
    """RIFF ``WAVE``: the ``data`` chunk's size over the frame (or ADPCM block) size."""
    chunks = _riff_chunks(header, 12, "<")
    if b"data" not in chunks:
        return None
    data_bytes = chunks[b"data"][1]
    return _wav_frames(header, chunks, None if data_bytes >= STREAMING_SIZE_32 else data_bytes)


def _rf64_frames(header: bytes) -> int | None:
    """RF64/BW64: the sizes live in the ``ds64`` chunk, the ``data`` chunk says ``0xFFFFFFFF``."""
    chunks = _riff_chunks(header, 12, "<")
    if b"ds64" not in chunks or b"data" not in chunks:
        return None
    ds64_at, ds64_size = chunks[b"ds64"]
    if ds64_size < 16 or ds64_at + 16 > len(header):
        return None
    _, data_bytes = struct.unpack("<QQ", header[ds64_at : ds64_at + 16])
    declared = chunks[b"data"][1]
    if declared != 0xFFFFFFFF:
        data_bytes = declared
    return _wav_frames(header, chunks, data_bytes or None)


def _w64_frames(header: bytes) -> int | None:
    """Sony Wave64: GUID chunk ids, 64-bit sizes that include the 24-byte chunk header."""
    chunks: dict[bytes, tuple[int, int]] = {}
    pos = _W64_RIFF_HEADER_BYTES
    while pos + _W64_CHUNK_HEADER_BYTES <= len(header):
        chunk_id = header[pos : pos + 4]
        (size,) = struct.unpack("<Q", header[pos + 16 : pos + 24])
        if size < _W64_CHUNK_HEADER_BYTES:
            return None
        chunks.setdefault(chunk_id, (pos + _W64_CHUNK_HEADER_BYTES, size - _W64_CHUNK_HEADER_BYTES))
        if chunk_id == b"data":
            break
        pos += (size + 7) // 8 * 8
    if b"data" not in chunks:
        return None
    return _wav_frames(header, chunks, chunks[b"data"][1])


def _aiff_frames(header: bytes) -> int | None:
    """AIFF/AIFC: ``numSampleFrames`` of the ``COMM`` chunk (big-endian)."""
    chunks = _riff_chunks(header, 12, ">")
    if b"COMM" not in chunks:
        return None
    comm_at, comm_size = chunks[b"COMM"]
    if comm_size < 6 or comm_at + 6 > len(header):
        return None
    (n_frames,) = struct.unpack(">I", header[comm_at + 2 : comm_at + 6])
    return None if n_frames >= STREAMING_SIZE_32 else n_frames


def _au_frames(header: bytes) -> int | None:
    """Sun AU: data size, encoding and channels of the 24-byte header (``.snd`` big-, ``dns.`` little-endian)."""
    endian = ">" if header.startswith(b".snd") else "<"
    _, data_bytes, encoding, _, n_channels = struct.unpack(endian + "IIIII", header[4:24])
    bytes_per_sample = _AU_BYTES_PER_SAMPLE.get(encoding)
    if data_bytes >= STREAMING_SIZE_32 or bytes_per_sample is None or n_channels < 1:
        return None
    return data_bytes // (bytes_per_sample * n_channels)
