"""Audio decoding, the edge where bytes become waveforms.

``load_audio`` decodes a path, bytes or a binary file object in any supported format to a
float32 waveform (optionally resampled and downmixed); ``iter_audio_blocks`` does the same
block by block for long audio; ``probe_audio`` reads the header only. The backend is chosen
from the content (magic bytes), never from the file name. See :mod:`genrekit.audio.decode`
for the failure policy.
"""

from __future__ import annotations

from genrekit.audio.decode import (
    DEFAULT_BLOCK_S,
    FROM_SETTINGS,
    MIN_DECODED_FRACTION,
    AudioInfo,
    iter_audio_blocks,
    load_audio,
    probe_audio,
)
from genrekit.audio.excerpts import ExcerptReader
from genrekit.audio.dsp import SILENCE_PEAK_DBFS, is_silent, peak_dbfs, resample, to_mono
from genrekit.audio.ffmpeg import ffmpeg_exe
from genrekit.audio.sniff import (
    AUDIO_EXTENSIONS,
    AUDIO_FORMATS,
    NOT_AUDIO_FORMATS,
    SNIFF_BYTES,
    UNSUPPORTED_FORMATS,
    identify_content,
    sniff_format,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "AUDIO_FORMATS",
    "DEFAULT_BLOCK_S",
    "FROM_SETTINGS",
    "MIN_DECODED_FRACTION",
    "NOT_AUDIO_FORMATS",
    "SILENCE_PEAK_DBFS",
    "SNIFF_BYTES",
    "UNSUPPORTED_FORMATS",
    "AudioInfo",
    "ExcerptReader",
    "ffmpeg_exe",
    "identify_content",
    "is_silent",
    "iter_audio_blocks",
    "load_audio",
    "peak_dbfs",
    "probe_audio",
    "resample",
    "sniff_format",
    "to_mono",
]
