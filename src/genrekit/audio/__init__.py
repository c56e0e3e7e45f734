"""Audio decoding, the edge where bytes become waveforms.

``load_audio`` decodes a path, bytes or a binary file object in any supported format to a
float32 waveform (optionally resampled and downmixed); ``iter_audio_blocks`` does the same
block by block for long audio; ``probe_audio`` reads the header only. The backend is chosen
from the content (magic bytes), never from the file name. See :mod:`genrekit.audio.decode`
for the failure policy.

Names are imported lazily: reading :data:`AUDIO_EXTENSIONS` or :data:`SNIFF_BYTES` (the CLI
parser, folder walks) loads neither NumPy nor the decoders.
"""

from __future__ import annotations

from genrekit._lazy import lazy_exports

_EXPORTS = {
    "decode": ("DEFAULT_BLOCK_S", "FROM_SETTINGS", "MIN_DECODED_FRACTION", "AudioInfo", "iter_audio_blocks", "load_audio", "probe_audio"),
    "excerpts": ("ExcerptReader",),
    "dsp": ("SILENCE_PEAK_DBFS", "is_silent", "peak_dbfs", "resample", "to_mono"),
    "ffmpeg": ("ffmpeg_exe",),
    "windows": ("slice_windows", "spread_starts"),
    "sniff": ("AUDIO_EXTENSIONS", "AUDIO_FORMATS", "NOT_AUDIO_FORMATS", "SNIFF_BYTES", "UNSUPPORTED_FORMATS", "identify_content", "sniff_format"),
}  # fmt: skip
__all__, __getattr__ = lazy_exports("genrekit.audio", _EXPORTS)
