"""Recognise content from its first bytes (magic numbers), never from a file name.

Pure functions on ``bytes``: :func:`identify_content` names what the bytes are (audio
containers, and common non-audio content such as images, documents, archives, programs
and text); :func:`sniff_format` keeps only the audio formats genrekit tries to decode.
"""

from __future__ import annotations

SNIFF_BYTES = 4096  # bytes of header read to recognise a format (the decoder's, and datasets' file checks; ID3 tags can be long)

AUDIO_EXTENSIONS = frozenset(
    {
        ".wav", ".wave", ".w64", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".m4b", ".mp4", ".aac",
        ".au", ".snd", ".aif", ".aiff", ".aifc", ".wma", ".webm", ".mkv", ".mka", ".caf", ".wv", ".ape",
    }
)  # fmt: skip
"""File name extensions (lower case, with the dot) taken as audio when walking folders; the
content still decides how a file is decoded."""

# Audio formats that libsndfile (soundfile) decodes; others go through ffmpeg.
SOUNDFILE_FORMATS = frozenset(
    {
        "wav",
        "rf64",
        "w64",
        "flac",
        "ogg_vorbis",
        "ogg_opus",
        "ogg_flac",
        "mp1",
        "mp2",
        "mp3",
        "aiff",
        "aifc",
        "au",
        "caf",
    }
)
# Audio (or audio-carrying video) containers decoded by the bundled ffmpeg.
FFMPEG_FORMATS = frozenset(
    {
        "ogg",
        "ogg_speex",
        "m4a",
        "mp4",
        "mov",
        "3gp",
        "webm",
        "matroska",
        "aac",
        "asf",
        "ape",
        "wavpack",
        "tta",
        "amr",
        "avi",
        "flv",
        "mpegts",
        "mpeg_ps",
        "dsf",
        "musepack",
    }
)
AUDIO_FORMATS = SOUNDFILE_FORMATS | FFMPEG_FORMATS
# Music-related content that holds no waveform to decode.
UNSUPPORTED_FORMATS = frozenset({"midi"})
NOT_AUDIO_FORMATS = frozenset(
    {
        "png",
        "jpeg",
        "gif",
        "bmp",
        "tiff",
        "webp",
        "heif",
        "psd",
        "pdf",
        "postscript",
        "rtf",
        "zip",
        "gzip",
        "bzip2",
        "xz",
        "zstd",
        "7z",
        "rar",
        "elf",
        "pe",
        "macho",
        "java_class",
        "wasm",
        "sqlite",
        "html",
        "xml",
        "svg",
        "text",
    }
)

_CONTENT_DESCRIPTIONS = {
    "html": "a web page",
    "xml": "an XML document",
    "svg": "an SVG image",
    "text": "text",
    "pdf": "a PDF document",
    "postscript": "a PostScript document",
    "rtf": "a text document",
    "sqlite": "a database",
    "java_class": "a program",
    "wasm": "a program",
    "elf": "a program",
    "pe": "a program",
    "macho": "a program",
}
_ARCHIVES = frozenset({"zip", "gzip", "bzip2", "xz", "zstd", "7z", "rar"})
_IMAGES = frozenset({"png", "jpeg", "gif", "bmp", "tiff", "webp", "heif", "psd"})


def describe_content(kind: str) -> str:
    """What a person would call content of this kind ("text", "an image (PNG)", "an archive (ZIP)")."""
    if kind in _IMAGES:
        return f"an image ({kind.upper()})"
    if kind in _ARCHIVES:
        return f"an archive ({kind.upper()})"
    return _CONTENT_DESCRIPTIONS.get(kind, f"{kind.upper()} data")


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"fLaC", "flac"),
    (b".snd", "au"),
    (b"dns.", "au"),
    (b"caff", "caf"),
    (b"MThd", "midi"),
    (b"MAC ", "ape"),
    (b"wvpk", "wavpack"),
    (b"TTA1", "tta"),
    (b"#!AMR", "amr"),
    (b"DSD ", "dsf"),
    (b"MPCK", "musepack"),
    (b"MP+", "musepack"),
    (b"FLV\x01", "flv"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "asf"),
    (b"\x00\x00\x01\xba", "mpeg_ps"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"8BPS", "psd"),
    (b"%PDF", "pdf"),
    (b"%!PS", "postscript"),
    (b"{\\rtf", "rtf"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"PK\x07\x08", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\x7fELF", "elf"),
    (b"\xca\xfe\xba\xbe", "java_class"),
    (b"\xfe\xed\xfa\xce", "macho"),
    (b"\xfe\xed\xfa\xcf", "macho"),
    (b"\xce\xfa\xed\xfe", "macho"),
    (b"\xcf\xfa\xed\xfe", "macho"),
    (b"\x00asm", "wasm"),
    (b"SQLite format 3\x00", "sqlite"),
)

_W64_GUID = b"riff\x2e\x91\xcf\x11\xa5\xd6\x28\xdb\x04\xc1\x00\x00"
_OGG_CODECS: tuple[tuple[bytes, str], ...] = (
    (b"\x01vorbis", "ogg_vorbis"),
    (b"OpusHead", "ogg_opus"),
    (b"\x7fFLAC", "ogg_flac"),
    (b"Speex   ", "ogg_speex"),
)
_M4A_BRANDS = (b"M4A ", b"M4B ", b"M4P ")
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")

# MPEG audio frame headers: bitrates (kbit/s) by (is_mpeg1, layer), sample rates by version bits.
_MPEG_BITRATES_KBPS = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_SAMPLE_RATES_HZ = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_TEXT_CONTROL_OK = frozenset(b"\t\n\r\f\v\x1b")


def identify_content(header: bytes) -> str | None:
    """Name the kind of content from its first bytes.

    Parameters
    ----------
    header : bytes
        The first bytes of the content; :data:`SNIFF_BYTES` is plenty, 64 recognise
        nearly everything.

    Returns
    -------
    str or None
        A name from :data:`AUDIO_FORMATS`, :data:`UNSUPPORTED_FORMATS` or
        :data:`NOT_AUDIO_FORMATS`, or ``None`` when the bytes are not recognised.
    """
    head = bytes(header)
    if not head:
        return None
    if head.startswith(b"ID3"):
        return _after_id3(head)
    found = _riff_family(head) or _container_family(head)
    if found is not None:
        return found
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head.startswith(b"BM") and len(head) >= 10 and head[6:10] == b"\x00\x00\x00\x00":
        return "bmp"
    if head.startswith(b"MZ") and len(head) >= 64:
        return "pe"
    if _is_mpegts(head):
        return "mpegts"
    if _is_adts(head, 0):
        return "aac"
    layer = _mpeg_audio_layer(head)
    if layer is not None:
        return f"mp{layer}"
    return _text_kind(head)


def sniff_format(header: bytes) -> str | None:
    """The audio format of some content, from its first bytes.

    Parameters
    ----------
    header : bytes
        The first bytes of the content (64 or more; :data:`SNIFF_BYTES` is plenty).

    Returns
    -------
    str or None
        A name from :data:`AUDIO_FORMATS` (``"wav"``, ``"flac"``, ``"mp3"``,
        ``"ogg_vorbis"``, ``"ogg_opus"``, ``"m4a"``, ``"mp4"``, ``"webm"``, ...), or ``None``
        for anything else (unknown bytes, MIDI, images, text, archives, ...).

    Examples
    --------
    >>> sniff_format(b"fLaC\\x00\\x00\\x00\\x22")
    'flac'
    >>> sniff_format(b"\\x89PNG\\r\\n\\x1a\\n") is None
    True
    """
    kind = identify_content(header)
    return kind if kind in AUDIO_FORMATS else None


def _after_id3(head: bytes) -> str:
    """The format after an ID3v2 tag (usually MP3; sometimes FLAC or ADTS AAC)."""
    if len(head) < 10:
        return "mp3"
    size = 10 + ((head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F))
    if head[5] & 0x10:
        size += 10
    rest = head[size:]
    if rest.startswith(b"fLaC"):
        return "flac"
    if _is_adts(rest, 0):
        return "aac"
    return "mp3"


def _riff_family(head: bytes) -> str | None:
    kind = head[8:12]
    if head.startswith(b"RIFF"):
        return {b"WAVE": "wav", b"AVI ": "avi", b"WEBP": "webp", b"RMID": "midi"}.get(kind)
    if head.startswith((b"RF64", b"BW64")) and kind == b"WAVE":
        return "rf64"
    if head.startswith(_W64_GUID):
        return "w64"
    if head.startswith(b"FORM"):
        return {b"AIFF": "aiff", b"AIFC": "aifc"}.get(kind)
    return None


def _container_family(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _M4A_BRANDS:
            return "m4a"
        if brand in _HEIF_BRANDS:
            return "heif"
        if brand == b"qt  ":
            return "mov"
        if brand.startswith(b"3g"):
            return "3gp"
        return "mp4"
    if head.startswith(b"OggS"):
        n_segments = head[26] if len(head) > 26 else 0
        packet = head[27 + n_segments :]
        for magic, name in _OGG_CODECS:
            if packet.startswith(magic):
                return name
        return "ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in head[:64] else "matroska"
    return None


def _is_mpegts(head: bytes) -> bool:
    return len(head) > 376 and head[0] == head[188] == head[376] == 0x47


def _is_adts(head: bytes, pos: int) -> bool:
    """An ADTS (AAC) frame header at ``pos``: 12-bit sync, layer 0, valid rate index."""
    if len(head) < pos + 7:
        return False
    b = head[pos : pos + 7]
    if b[0] != 0xFF or (b[1] & 0xF6) != 0xF0:
        return False
    if ((b[2] >> 2) & 0x0F) > 12:
        return False
    frame_length = ((b[3] & 0x03) << 11) | (b[4] << 3) | (b[5] >> 5)
    if frame_length < 7:
        return False
    if len(head) >= pos + frame_length + 2:
        nxt = head[pos + frame_length : pos + frame_length + 2]
        return nxt[0] == 0xFF and (nxt[1] & 0xF6) == 0xF0
    return True


def _mpeg_frame(head: bytes, pos: int) -> tuple[int, int | None] | None:
    """(layer, frame length in bytes or None for free format) of an MPEG audio frame at ``pos``."""
    if len(head) < pos + 4:
        return None
    b0, b1, b2, b3 = head[pos : pos + 4]
    if b0 != 0xFF or (b1 & 0xE0) != 0xE0:
        return None
    version = (b1 >> 3) & 0x03
    layer_bits = (b1 >> 1) & 0x03
    bitrate_index = b2 >> 4
    rate_index = (b2 >> 2) & 0x03
    if version == 1 or layer_bits == 0 or bitrate_index == 15 or rate_index == 3 or (b3 & 0x03) == 2:
        return None
    layer = 4 - layer_bits
    is_mpeg1 = version == 3
    if bitrate_index == 0:
        return layer, None
    bitrate = _MPEG_BITRATES_KBPS[(is_mpeg1, layer)][bitrate_index] * 1000
    sr = _MPEG_SAMPLE_RATES_HZ[version][rate_index]
    padding = (b2 >> 1) & 0x01
    if layer == 1:
        length = (12 * bitrate // sr + padding) * 4
    elif layer == 3 and not is_mpeg1:
        length = 72 * bitrate // sr + padding
    else:
        length = 144 * bitrate // sr + padding
    return layer, length


def _mpeg_audio_layer(head: bytes) -> int | None:
    """Layer (1-3) of an MPEG audio stream starting at byte 0, checking the next frame when visible."""
    frame = _mpeg_frame(head, 0)
    if frame is None:
        return None
    layer, length = frame
    if length is not None and len(head) >= length + 4:
        following = _mpeg_frame(head, length)
        if following is None or following[0] != layer:
            return None
    return layer


def _text_kind(head: bytes) -> str | None:
    """'html', 'xml', 'svg' or 'text' for UTF-8 text without binary control bytes."""
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    if not body:
        return None
    if any(byte < 0x20 and byte not in _TEXT_CONTROL_OK for byte in body) or 0x7F in body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(body) - 3:
            return None
        text = body[: error.start].decode("utf-8")
    lowered = text.lstrip().lower()
    if lowered.startswith(("<!doctype html", "<html")) or "<html" in lowered[:1024]:
        return "html"
    if lowered.startswith("<svg") or (lowered.startswith("<?xml") and "<svg" in lowered):
        return "svg"
    if lowered.startswith("<?xml"):
        return "xml"
    return "text"
