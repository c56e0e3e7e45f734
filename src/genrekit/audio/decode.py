"""Encoded audio in, float32 waveforms out: :func:`load_audio`, :func:`iter_audio_blocks`,
:func:`probe_audio`.

The backend is chosen from the content's magic bytes, never from the file name:
libsndfile (``soundfile``) for WAV/RF64/W64, FLAC, Ogg Vorbis/Opus/FLAC, MP3 (and MPEG
layers I/II), AIFF, AU and CAF; the bundled ffmpeg for M4A/AAC, the audio track of
MP4/MOV/WebM/MKV/AVI, WMA and the rest, and as a fallback when libsndfile fails. Both
decode at the native rate; downmixing (mean of channels) and resampling (soxr ``HQ``) are
the same numpy code for every backend, so results match ``librosa.load`` for what
libsndfile reads.

Failure policy
--------------
* Not audio (image, document, archive, program, text, or unrecognised bytes that ffmpeg
  cannot open either): :class:`~genrekit.errors.NotAudioError`. A file with no audio stream
  (a video without sound): also ``NotAudioError``.
* Audio that holds no waveform (MIDI) or a codec no backend decodes:
  :class:`~genrekit.errors.UnsupportedFormatError`.
* Corrupt audio: :class:`~genrekit.errors.AudioDecodeError`. A *truncated* file (a download
  cut short) decodes to the audio before the damage, with a logged warning, provided that is
  at least :data:`MIN_DECODED_FRACTION` of the span its header announces; less than that
  (a header with no body, a garbage body) raises ``AudioDecodeError``. For WAV, RF64, W64,
  AIFF and AU the announced length is read from the header itself
  (:func:`~genrekit.audio.header.announced_n_frames`), since libsndfile only counts the
  frames present; where the header does not state it (a streaming writer's placeholder
  size) a short file is taken as it is.
* 0 bytes, 0 samples, an offset at or past the end, or (for :func:`load_audio`, unless
  ``allow_silent``) a signal whose peak stays below
  :data:`~genrekit.audio.dsp.SILENCE_PEAK_DBFS`: :class:`~genrekit.errors.EmptyAudioError`.
* Longer than ``max_duration_s``: :class:`~genrekit.errors.AudioTooLongError`, raised from
  the header's duration before decoding, and while decoding where the header cannot tell.
  The limit applies to the span that is decoded (``offset``/``duration``).
* A missing or unreadable path: :class:`~genrekit.errors.AudioError`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from types import EllipsisType
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from genrekit import settings
from genrekit.audio import ffmpeg
from genrekit.audio.dsp import RESAMPLE_QUALITY, check_rate, is_silent, peak_dbfs, resample, resampled_length
from genrekit.audio.header import announced_n_frames
from genrekit.audio.messages import route_decoder_messages
from genrekit.audio.sniff import (
    NOT_AUDIO_FORMATS,
    SOUNDFILE_FORMATS,
    UNSUPPORTED_FORMATS,
    describe_content,
    identify_content,
)
from genrekit.audio.source import AudioSource, Source
from genrekit.errors import (
    AudioDecodeError,
    AudioError,
    AudioTooLongError,
    EmptyAudioError,
    InvalidParameterError,
    NotAudioError,
    UnsupportedFormatError,
)

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_S = 30.0  # s of audio per block yielded by iter_audio_blocks
MIN_DECODED_FRACTION = 0.5  # a truncated span must decode to at least this share of its announced length
MAX_CHANNELS = 64  # channels; more is treated as a corrupt header
_READ_FRAMES = 1 << 16  # native frames decoded per read (~1.5 s at 44.1 kHz)
_TRIM_MARGIN = 1024  # output samples held back while streaming so the final length can be fixed


FROM_SETTINGS = ...  # default of load_audio's max_duration_s: read the settings


@dataclass(frozen=True)
class AudioInfo:
    """What the header of some encoded audio says, without decoding it.

    Attributes
    ----------
    duration_s : float or None
        Length in seconds; ``None`` where the container does not say (e.g. raw ADTS AAC
        may only give an estimate, or nothing).
    sr : int
        Native sample rate (Hz) it decodes to (Opus: always 48000).
    n_channels : int
        Channels it decodes to.
    format : str
        Container format, from the magic bytes (``"wav"``, ``"flac"``, ``"mp3"``,
        ``"ogg_opus"``, ``"m4a"``, ``"webm"``, ...; see :data:`genrekit.audio.AUDIO_FORMATS`),
        or ffmpeg's demuxer name for content the magic bytes do not identify.
    codec : str or None
        The codec or sample encoding (``"pcm_16"``, ``"vorbis"``, ``"mpeg_layer_iii"``,
        ``"aac"``, ``"opus"``, ...).
    n_frames : int or None
        Frames (samples per channel) as the header states them; ``None`` for formats
        decoded by ffmpeg, whose count is only known after decoding.
    """

    duration_s: float | None
    sr: int
    n_channels: int
    format: str
    codec: str | None
    n_frames: int | None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


class _BackendFailed(Exception):
    """libsndfile could not open the content; ffmpeg gets a try."""


class _SoundfileReader:
    """Native frames through libsndfile, from ``offset_s`` on.

    If libsndfile fails in the middle of the file, decoding goes on with ffmpeg from the
    first frame not yet returned (ffmpeg skips damaged frames where libsndfile stops).
    """

    def __init__(self, src: AudioSource, kind: str, offset_s: float) -> None:
        self.name = src.name
        self.error: AudioError | None = None
        self._src = src
        self._rescue: ffmpeg.FfmpegDecoder | None = None
        if kind == "mp3":
            route_decoder_messages()
        try:
            self._file = sf.SoundFile(src.soundfile_target())
        except Exception as e:  # libsndfile reports any unreadable content as one of several types
            raise _BackendFailed(str(e)) from e
        self.sr = int(self._file.samplerate)
        self.n_channels = int(self._file.channels)
        frames = int(self._file.frames)
        if self.sr < 1 or not 1 <= self.n_channels <= MAX_CHANNELS or frames < 0:
            self._file.close()
            raise _BackendFailed(f"implausible header: {self.sr} Hz, {self.n_channels} channels")
        # libsndfile counts only the frames present in uncompressed containers; the header's
        # own count tells a file cut short from a short file.
        announced = announced_n_frames(src.header, kind)
        n_announced = frames
        if announced is not None and announced > frames:
            n_announced = announced
            self.error = AudioDecodeError(
                f"{src.name}: cut short, it holds {frames / self.sr:.2f} s of the "
                f"{announced / self.sr:.2f} s its header announces"
            )
        self.info = AudioInfo(
            duration_s=n_announced / self.sr,
            sr=self.sr,
            n_channels=self.n_channels,
            format=kind,
            codec=str(self._file.subtype).lower() or None,
            n_frames=n_announced,
        )
        self.n_frames_announced: int | None = n_announced
        self.length_is_exact = True
        self.start_frame = int(round(offset_s * self.sr))
        self._position = self.start_frame
        self._done = self.start_frame >= frames
        if self.start_frame and not self._done:
            try:
                self._file.seek(self.start_frame)
            except Exception as e:  # a failed seek in a damaged file
                self._file.close()
                raise _BackendFailed(str(e)) from e

    def read(self, n_frames: int) -> np.ndarray:
        if self._rescue is not None:
            return self._read_rescue(n_frames)
        if self._done:
            return np.zeros((0, self.n_channels), dtype=np.float32)
        try:
            frames = self._file.read(n_frames, dtype="float32", always_2d=True)
        except Exception as e:  # a decode error mid-file: go on with ffmpeg from here
            self.error = AudioDecodeError(f"{self.name}: {e}")
            logger.debug("%s: libsndfile failed at frame %d (%s); going on with ffmpeg", self.name, self._position, e)
            self._rescue = ffmpeg.FfmpegDecoder(
                self._src.ffmpeg_path(), self.name, offset_s=self._position / self.sr, known_audio=True
            )
            return self._read_rescue(n_frames)
        self._position += len(frames)
        return frames

    def read_at(self, first: int, n_frames: int) -> np.ndarray:
        """Up to ``n_frames`` frames from frame ``first`` on (a seek, then a read); no rescue."""
        self._file.seek(first)
        return self._file.read(n_frames, dtype="float32", always_2d=True)

    def _read_rescue(self, n_frames: int) -> np.ndarray:
        try:
            frames = self._rescue.read(n_frames)
        except AudioError:
            return np.zeros((0, self.n_channels), dtype=np.float32)
        if (self._rescue.sr, self._rescue.n_channels) != (self.sr, self.n_channels):
            return np.zeros((0, self.n_channels), dtype=np.float32)
        self._position += len(frames)
        return frames

    def close(self) -> None:
        self._file.close()
        if self._rescue is not None:
            self._rescue.close()


class _FfmpegReader:
    """Native frames through the bundled ffmpeg, from ``offset_s`` on."""

    def __init__(self, src: AudioSource, kind: str | None, offset_s: float) -> None:
        self.name = src.name
        self.error: AudioError | None = None
        self._path = src.ffmpeg_path()
        self._known_audio = kind is not None
        self._offset_s = offset_s
        found = ffmpeg.probe(self._path, src.name, known_audio=self._known_audio)
        if found.n_channels > MAX_CHANNELS:
            raise UnsupportedFormatError(f"{src.name}: {found.n_channels} channels, more than {MAX_CHANNELS}")
        self.sr = found.sr
        self.n_channels = found.n_channels
        self.info = AudioInfo(
            duration_s=found.duration_s,
            sr=found.sr,
            n_channels=found.n_channels,
            format=kind or (found.container or "unknown").split(",")[0],
            codec=found.codec,
            n_frames=None,
        )
        # The container's duration (which may cover a longer video track, or be a bit-rate
        # estimate), so it only bounds the work and is not trusted to detect truncation.
        self.n_frames_announced = int(round(found.duration_s * found.sr)) if found.duration_s else None
        self.length_is_exact = False
        self.start_frame = int(round(offset_s * self.sr))
        self._decoder: ffmpeg.FfmpegDecoder | None = None

    def read(self, n_frames: int) -> np.ndarray:
        if self._decoder is None:
            self._decoder = ffmpeg.FfmpegDecoder(
                self._path, self.name, offset_s=self._offset_s, known_audio=self._known_audio
            )
        frames = self._decoder.read(n_frames)
        if (self._decoder.sr, self._decoder.n_channels) != (self.sr, self.n_channels):
            raise AudioDecodeError(
                f"{self.name}: ffmpeg decoded {self._decoder.n_channels} channels at {self._decoder.sr} Hz, "
                f"its probe said {self.n_channels} at {self.sr} Hz"
            )
        self.error = self._decoder.error
        return frames

    def close(self) -> None:
        if self._decoder is not None:
            self._decoder.close()


_Reader = _SoundfileReader | _FfmpegReader


def _open_reader(src: AudioSource, offset_s: float) -> _Reader:
    """Choose the backend from the magic bytes and open it at ``offset_s``."""
    kind = identify_content(src.header)
    if kind in NOT_AUDIO_FORMATS:
        raise NotAudioError(f"{src.name}: this file is not audio (it looks like {describe_content(kind)})")
    if kind in UNSUPPORTED_FORMATS:
        raise UnsupportedFormatError(f"{src.name}: {kind.upper()} holds notes, not recorded sound; nothing to decode")
    if kind in SOUNDFILE_FORMATS:
        try:
            return _SoundfileReader(src, kind, offset_s)
        except _BackendFailed as e:
            logger.debug("%s: libsndfile failed (%s); trying ffmpeg", src.name, e)
    return _FfmpegReader(src, kind, offset_s)


@dataclass(frozen=True)
class _Span:
    """Which native frames to decode and the limits that apply."""

    name: str
    offset_s: float
    n_frames: int | None  # frames wanted (None: to the end)
    n_expected: int | None  # frames the header announces for the span (None: unknown)
    max_frames: int | None  # decoding more than this raises AudioTooLongError
    max_duration_s: float | None


def _plan_span(reader: _Reader, offset_s: float, duration_s: float | None, max_duration_s: float | None) -> _Span:
    sr = reader.sr
    announced = reader.n_frames_announced
    n_wanted = None if duration_s is None else max(1, int(round(duration_s * sr)))
    if announced == 0:
        raise EmptyAudioError(f"{reader.name}: the audio holds no samples")
    if announced is not None and offset_s > 0 and reader.start_frame >= announced:
        raise EmptyAudioError(
            f"{reader.name}: offset {offset_s:g} s is at or past the end of the audio ({announced / sr:.3f} s)"
        )
    n_expected = None  # without a length from the header, nothing is expected (nor refused) up front
    if announced is not None:
        remaining = announced - reader.start_frame
        n_expected = remaining if n_wanted is None else min(n_wanted, remaining)
    max_frames = None
    if max_duration_s is not None and not math.isinf(max_duration_s):
        max_frames = int(math.floor(max_duration_s * sr))
        if n_expected is not None and n_expected > max_frames:
            raise AudioTooLongError(
                f"{reader.name}: the audio to decode is {n_expected / sr:.1f} s long, "
                f"more than the maximum of {max_duration_s:g} s"
            )
    return _Span(reader.name, offset_s, n_wanted, n_expected, max_frames, max_duration_s)


def _native_chunks(reader: _Reader, span: _Span) -> Iterator[np.ndarray]:
    """float32 ``(frames, n_channels)`` chunks of the span at the native rate, then the end checks."""
    n_done = 0
    while span.n_frames is None or n_done < span.n_frames:
        n_ask = _READ_FRAMES if span.n_frames is None else min(_READ_FRAMES, span.n_frames - n_done)
        chunk = reader.read(n_ask)
        if len(chunk):
            if not np.isfinite(chunk).all():
                raise AudioDecodeError(f"{span.name}: the audio contains NaN or infinite samples")
            n_done += len(chunk)
            if span.max_frames is not None and n_done > span.max_frames:
                raise AudioTooLongError(
                    f"{span.name}: the audio is longer than the maximum of {span.max_duration_s:g} s"
                )
            yield chunk
        if len(chunk) < n_ask:
            break
    if n_done == 0:
        if reader.error is not None:
            raise reader.error
        if span.offset_s > 0:
            raise EmptyAudioError(f"{span.name}: no audio at or after offset {span.offset_s:g} s")
        raise EmptyAudioError(f"{span.name}: the audio holds no samples")
    trusted = reader.length_is_exact or reader.error is not None
    if trusted and span.n_expected is not None and n_done < MIN_DECODED_FRACTION * span.n_expected:
        raise AudioDecodeError(
            f"{span.name}: truncated or corrupt, only {n_done / reader.sr:.2f} s of the "
            f"{span.n_expected / reader.sr:.2f} s its header announces could be decoded"
        ) from reader.error
    if reader.error is not None:
        logger.warning("%s; kept the %.2f s that decoded", reader.error, n_done / reader.sr)


def _downmix(chunk: np.ndarray) -> np.ndarray:
    """``(frames, n_channels)`` -> ``(frames,)`` by the mean of channels."""
    if chunk.shape[1] == 1:
        return np.ascontiguousarray(chunk[:, 0])
    return np.mean(chunk, axis=1, dtype=np.float32)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_common(sr: float | None, offset: float, duration: float | None, max_duration_s: float | None) -> None:
    if sr is not None:
        check_rate(sr, "sr")
    if not (_is_number(offset) and math.isfinite(offset) and offset >= 0):
        raise InvalidParameterError(f"offset must be a finite number of seconds >= 0, got {offset!r}")
    if duration is not None and not (_is_number(duration) and math.isfinite(duration) and duration > 0):
        raise InvalidParameterError(f"duration must be a finite number of seconds > 0 or None, got {duration!r}")
    if max_duration_s is not None and not (_is_number(max_duration_s) and max_duration_s > 0):
        raise InvalidParameterError(f"max_duration_s must be a number of seconds > 0 or None, got {max_duration_s!r}")


def load_audio(
    source: Source,
    sr: float | None = None,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
    max_duration_s: float | None | EllipsisType = FROM_SETTINGS,
    *,
    allow_silent: bool = False,
) -> tuple[np.ndarray, float]:
    """Decode audio to a float32 waveform.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview or binary file object
        Encoded audio in any supported format (WAV, FLAC, Ogg Vorbis/Opus, MP3, AIFF, AU,
        M4A/AAC, the audio track of MP4/WebM/MKV, ...), recognised from its content.
    sr : number > 0 or None
        Sample rate wanted (Hz); ``None`` keeps the native rate. Resampling uses soxr
        ``HQ``, like ``librosa.load``'s default.
    mono : bool
        Downmix to one channel (the mean of the channels).
    offset : float >= 0
        Start of the span to decode (s), rounded to the nearest native sample. The decoder
        seeks there; what comes before is not decoded.
    duration : float > 0 or None
        Length of the span (s); ``None``: to the end.
    max_duration_s : float > 0 or None
        Refuse a span longer than this (s), before decoding where the header tells the
        length. Default: :func:`genrekit.settings.max_duration_s` (20 minutes, or the
        environment variable ``GENREKIT_MAX_DURATION_S`` read at each call; ``none`` there
        means no limit); ``None``: no limit. Use :func:`iter_audio_blocks` for long audio.
    allow_silent : bool
        Return digital silence (peak below ``SILENCE_PEAK_DBFS``) instead of raising.

    Returns
    -------
    y : np.ndarray [shape=(n_samples,) if mono else (n_channels, n_samples), dtype=float32]
        Samples, full scale 1.0. With ``mono=False`` a one-channel file gives ``(1, n_samples)``.
    sr : number
        Sample rate of ``y`` (Hz): ``sr`` if given, else the native rate (int).

    Raises
    ------
    InvalidParameterError
        A parameter is out of range or ``source`` is of the wrong kind.
    NotAudioError, UnsupportedFormatError, AudioDecodeError, EmptyAudioError, AudioTooLongError, AudioError
        See the module's failure policy.
    """
    if max_duration_s is FROM_SETTINGS:
        max_duration_s = settings.max_duration_s()
    _check_common(sr, offset, duration, max_duration_s)
    with AudioSource(source) as src:
        reader = _open_reader(src, offset)
        try:
            span = _plan_span(reader, offset, duration, max_duration_s)
            chunks = [_downmix(c) if mono else c for c in _native_chunks(reader, span)]
        finally:
            reader.close()
    native_sr = reader.sr
    y = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    del chunks
    if not mono:
        y = y.T
    out_sr = native_sr if sr is None else sr
    y = resample(y, native_sr, out_sr) if out_sr != native_sr else y
    y = np.ascontiguousarray(y, dtype=np.float32)
    if not y.flags.writeable:
        y = y.copy()
    if not allow_silent and is_silent(y):
        raise EmptyAudioError(f"{src.name}: the audio is silent (peak {peak_dbfs(y):.1f} dBFS)")
    return y, out_sr


def iter_audio_blocks(
    source: Source,
    sr: float | None = None,
    block_s: float = DEFAULT_BLOCK_S,
    mono: bool = True,
    *,
    offset: float = 0.0,
    duration: float | None = None,
    max_duration_s: float | None = None,
) -> Iterator[np.ndarray]:
    """Decode audio block by block, with memory bounded by the block size.

    Concatenating the blocks gives the same samples as :func:`load_audio` with the same
    arguments (the streaming soxr resampler is exact), except that silence is not refused.
    Parameters are checked at once; the source is opened, and decode errors raised, when
    iteration starts. The source is released when the iterator is exhausted or closed.

    Parameters
    ----------
    source, sr, mono, offset, duration
        As in :func:`load_audio`.
    block_s : float > 0
        Block length (s). Every block has ``round(block_s * sr)`` samples except the last,
        which may be shorter.
    max_duration_s : float > 0 or None
        As in :func:`load_audio`, but no limit by default.

    Yields
    ------
    np.ndarray [shape=(n,) if mono else (n_channels, n), dtype=float32]

    Raises
    ------
    InvalidParameterError
        At the call, for bad parameters.
    NotAudioError, UnsupportedFormatError, AudioDecodeError, EmptyAudioError, AudioTooLongError, AudioError
        During iteration (see the module's failure policy); a truncation found at the end
        is raised after the blocks decoded before it.
    """
    _check_common(sr, offset, duration, max_duration_s)
    if not (_is_number(block_s) and math.isfinite(block_s) and block_s > 0):
        raise InvalidParameterError(f"block_s must be a finite number of seconds > 0, got {block_s!r}")
    return _iter_blocks(source, sr, block_s, mono, offset, duration, max_duration_s)


class _BlockBuffer:
    """Collects resampled pieces and hands out fixed-size blocks."""

    def __init__(self, block_frames: int, n_channels: int, mono: bool, hold: int) -> None:
        self.block_frames = block_frames
        self.n_channels = n_channels
        self.mono = mono
        self.hold = hold
        self.pieces: list[np.ndarray] = []
        self.n_pending = 0
        self.n_pushed = 0

    def push(self, piece: np.ndarray) -> Iterator[np.ndarray]:
        if len(piece):
            self.pieces.append(piece)
            self.n_pending += len(piece)
            self.n_pushed += len(piece)
        while self.n_pending >= self.block_frames + self.hold:
            yield self._emit(self.block_frames)

    def fix_total(self, n_total: int) -> None:
        """Pad with zeros or drop pending samples so exactly ``n_total`` are pushed in all."""
        extra = self.n_pushed - n_total
        if extra < 0:
            shape = (-extra,) if self.mono else (-extra, self.n_channels)
            self.pieces.append(np.zeros(shape, dtype=np.float32))
            self.n_pending -= extra
        elif extra > 0 and self.n_pending > 0:
            pending = self._take(self.n_pending)
            keep = max(0, len(pending) - extra)
            self.pieces, self.n_pending = [pending[:keep]], keep
        self.n_pushed = n_total

    def finish(self) -> Iterator[np.ndarray]:
        while self.n_pending > 0:
            yield self._emit(min(self.block_frames, self.n_pending))

    def _take(self, n: int) -> np.ndarray:
        joined = np.concatenate(self.pieces) if len(self.pieces) > 1 else self.pieces[0]
        self.pieces = [joined[n:]] if n < len(joined) else []
        self.n_pending = len(joined) - n
        return joined[:n]

    def _emit(self, n: int) -> np.ndarray:
        block = self._take(n)
        return np.ascontiguousarray(block if self.mono else block.T, dtype=np.float32)


def _iter_blocks(
    source: Source,
    sr: float | None,
    block_s: float,
    mono: bool,
    offset: float,
    duration: float | None,
    max_duration_s: float | None,
) -> Iterator[np.ndarray]:
    with AudioSource(source) as src:
        reader = _open_reader(src, offset)
        try:
            span = _plan_span(reader, offset, duration, max_duration_s)
            native_sr = reader.sr
            out_sr = native_sr if sr is None else sr
            n_channels_out = 1 if mono else reader.n_channels
            resampler = None
            if out_sr != native_sr:
                resampler = soxr.ResampleStream(
                    native_sr, out_sr, n_channels_out, dtype="float32", quality=RESAMPLE_QUALITY
                )
            block_frames = max(1, int(round(block_s * out_sr)))
            buffer = _BlockBuffer(block_frames, n_channels_out, mono, hold=_TRIM_MARGIN if resampler is not None else 0)
            n_native = 0
            for chunk in _native_chunks(reader, span):
                piece = _downmix(chunk) if mono else chunk
                n_native += len(piece)
                if resampler is not None:
                    piece = resampler.resample_chunk(piece)
                yield from buffer.push(piece)
            if resampler is not None:
                empty = np.zeros((0,) if mono else (0, n_channels_out), dtype=np.float32)
                yield from buffer.push(resampler.resample_chunk(empty, last=True))
                buffer.fix_total(resampled_length(n_native, native_sr, out_sr))
            yield from buffer.finish()
        finally:
            reader.close()


def probe_audio(source: Source) -> AudioInfo:
    """Describe encoded audio from its header, without decoding the samples.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview or binary file object

    Returns
    -------
    AudioInfo

    Raises
    ------
    NotAudioError, UnsupportedFormatError, AudioDecodeError, EmptyAudioError, AudioError
        As :func:`load_audio`, for what can be told without decoding (a 0-byte source is
        ``EmptyAudioError``; a valid header announcing 0 samples is described, not refused).
    """
    with AudioSource(source) as src:
        reader = _open_reader(src, 0.0)
        reader.close()
    return reader.info
