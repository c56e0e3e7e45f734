"""Decoding through the ffmpeg binary bundled in the ``imageio-ffmpeg`` wheel.

Used for what libsndfile cannot read (M4A/AAC, the audio track of MP4/WebM/MKV/AVI, WMA,
...) and as a fallback when libsndfile fails. ffmpeg decodes at the native rate and pipes
32-bit float WAV to stdout; resampling and downmixing stay in numpy (soxr), so every
backend gives the same numerics. No system ffmpeg and no temporary output files are used.

Offsets: ffmpeg's own seeking is not sample-exact for every container, so offsets up to
:data:`FAST_SEEK_MIN_S` are reached by decoding from the start and dropping samples
(exact). Farther ones seek to :data:`SEEK_PREROLL_S` before the offset (so decoders such as
Opus and AAC settle) and drop samples from there; those land within one codec frame of the
offset (measured: MKV/Vorbis 2 samples, WebM/Opus 48, MP4/AAC up to 922 at 44.1 kHz, i.e.
< 25 ms), which does not matter for classification. (AAC's noise substitution also
restarts its random generator at a seek, so noise-like bands differ from a decode from the
start even when aligned.)

ffmpeg is killed when it produces no output for :data:`FFMPEG_TIMEOUT_S` seconds while we
wait on it, so a pathological input cannot hang the caller. Reads use ``select`` (POSIX).
"""

from __future__ import annotations

import functools
import os
import re
import select
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO

import numpy as np

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None

from genrekit.errors import AudioDecodeError, AudioError, NotAudioError, UnsupportedFormatError

FFMPEG_TIMEOUT_S = 60.0  # s ffmpeg may stay silent (no output, not exited) before it is killed
_PIPE_BYTES = 1 << 20  # bytes of pipe buffer asked for between ffmpeg and us
_SKIP_FRAMES = 1 << 16  # frames dropped per read on the way to an offset
FAST_SEEK_MIN_S = 60.0  # s; nearer offsets are reached by decoding from the start (sample-exact)
SEEK_PREROLL_S = 5.0  # s decoded before a farther offset, so decoders settle (Opus, AAC)
_STDERR_TAIL_CHARS = 600  # characters of ffmpeg's stderr quoted in error messages
_WAVE_FORMAT_IEEE_FLOAT = 3
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE

_DURATION_RE = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_INPUT_RE = re.compile(r"Input #0, ([^ ]+), from")
_AUDIO_STREAM_RE = re.compile(r"Stream #0:\d+\S*: Audio: ([A-Za-z0-9_]+)")


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped with imageio-ffmpeg.

    Raises
    ------
    UnsupportedFormatError
        imageio-ffmpeg or its binary is missing.
    """
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError, OSError) as e:
        raise UnsupportedFormatError(
            f"this format needs the ffmpeg binary of the imageio-ffmpeg package, which is unavailable ({e})"
        ) from e


@dataclass(frozen=True)
class FfmpegProbe:
    """What ffmpeg reports about an input's first audio stream.

    Attributes
    ----------
    sr : int
        Sample rate (Hz) the stream decodes to.
    n_channels : int
        Channels it decodes to.
    duration_s : float or None
        Container duration (s); ``None`` where ffmpeg cannot tell (then it may be an estimate
        elsewhere, e.g. from the bit rate).
    container : str or None
        ffmpeg's demuxer name (``"mov,mp4,m4a,3gp,3g2,mj2"``, ``"matroska,webm"``, ...).
    codec : str or None
        Audio codec (``"aac"``, ``"opus"``, ``"mp3"``, ...).
    """

    sr: int
    n_channels: int
    duration_s: float | None
    container: str | None
    codec: str | None


def _input_args(path: str, *, loglevel: str, offset_s: float = 0.0) -> list[str]:
    """ffmpeg's command up to its input; only local files may be opened (no network, no URLs)."""
    args = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", loglevel, "-protocol_whitelist", "file"]
    if offset_s > 0:
        args += ["-ss", f"{offset_s:.6f}"]
    return args + ["-i", "file:" + os.path.abspath(path)]


_OUTPUT_ARGS = ["-map", "0:a:0", "-map_metadata", "-1", "-c:a", "pcm_f32le", "-f", "wav", "-bitexact", "pipe:1"]


_LOG_PREFIX_RE = re.compile(r"^(\[[^\]]*\]\s*)+")
_BORING_PREFIXES = ("Error opening input file", "Error opening output file", "Error opening input files")


def summarize_stderr(stderr: str, max_lines: int = 3) -> str:
    """ffmpeg's distinct complaints on one line, without its ``[demuxer @ 0x...]`` prefixes.

    Where the log carries level tags (``-loglevel level+info``), only errors are kept.
    """
    lines = stderr.splitlines()
    errors = [line for line in lines if "[error]" in line or "[fatal]" in line]
    seen: list[str] = []
    for line in errors or lines:
        text = _LOG_PREFIX_RE.sub("", line).strip()
        if text and not text.startswith(_BORING_PREFIXES) and text not in seen:
            seen.append(text)
    return "; ".join(seen[:max_lines])[:_STDERR_TAIL_CHARS] or "no message"


def error_from_stderr(stderr: str, name: str, *, known_audio: bool) -> AudioError:
    """Turn ffmpeg's complaint into the matching genrekit error.

    Parameters
    ----------
    stderr : str
        What ffmpeg wrote to stderr.
    name : str
        The input's name, for the message.
    known_audio : bool
        The content was recognised as an audio format by its magic bytes; then unreadable
        data means corrupt audio rather than not-audio.
    """
    detail = summarize_stderr(stderr)
    if "matches no streams" in stderr or "does not contain any stream" in stderr:
        return NotAudioError(f"{name}: contains no audio stream")
    if "no decoder found" in stderr or "Decoder not found" in stderr or "Unknown decoder" in stderr:
        return UnsupportedFormatError(f"{name}: the audio codec is not supported ({detail})")
    if "Invalid data found when processing input" in stderr and "Error opening input" in stderr and not known_audio:
        return NotAudioError(f"{name}: not a recognised audio format")
    return AudioDecodeError(f"{name}: cannot decode the audio, it may be corrupt or truncated (ffmpeg: {detail})")


class _Pipe:
    """Reads from a subprocess's stdout with an inactivity timeout."""

    def __init__(self, process: subprocess.Popen, name: str, timeout_s: float) -> None:
        self.process = process
        self.fd = process.stdout.fileno()
        self.name = name
        self.timeout_s = timeout_s
        self.eof = False
        try:  # a larger pipe means fewer wake-ups; the default (64 KiB) also works
            fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        except (AttributeError, OSError):
            pass

    def read(self, n_bytes: int) -> bytearray:
        """Up to ``n_bytes`` bytes; fewer only at end of stream."""
        buf = bytearray(n_bytes)
        view = memoryview(buf)
        n_read = 0
        while n_read < n_bytes and not self.eof:
            ready, _, _ = select.select([self.fd], [], [], self.timeout_s)
            if not ready:
                self.process.kill()
                raise AudioDecodeError(f"{self.name}: ffmpeg produced no output for {self.timeout_s:g} s, stopped")
            n = os.readv(self.fd, [view[n_read:]])
            if n == 0:
                self.eof = True
            n_read += n
        view.release()
        del buf[n_read:]
        return buf


def _parse_wav_header(pipe: _Pipe) -> tuple[int, int] | None:
    """(sr, n_channels) from the streamed WAV header ffmpeg writes; None if the stream ends first."""
    riff = pipe.read(12)
    if len(riff) < 12:
        return None
    if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        raise AudioDecodeError(f"{pipe.name}: unexpected output from ffmpeg (no WAV header)")
    fmt = None
    while True:
        chunk = pipe.read(8)
        if len(chunk) < 8:
            return None
        chunk_id, size = bytes(chunk[:4]), struct.unpack("<I", chunk[4:8])[0]
        if chunk_id == b"data":
            break
        body = pipe.read(size + (size & 1))
        if chunk_id == b"fmt ":
            fmt = bytes(body[:16])
    if fmt is None or len(fmt) < 16:
        raise AudioDecodeError(f"{pipe.name}: unexpected output from ffmpeg (no fmt chunk)")
    tag, n_channels, sr, _, _, bits = struct.unpack("<HHIIHH", fmt)
    if tag not in (_WAVE_FORMAT_IEEE_FLOAT, _WAVE_FORMAT_EXTENSIBLE) or bits != 32 or n_channels < 1 or sr < 1:
        raise AudioDecodeError(f"{pipe.name}: unexpected output from ffmpeg (format {tag}, {bits} bits)")
    return sr, n_channels


def _read_text(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def probe(path: str, name: str, *, known_audio: bool, timeout_s: float = FFMPEG_TIMEOUT_S) -> FfmpegProbe:
    """Describe the first audio stream of a file without decoding it.

    Parameters
    ----------
    path : str
        File on disk.
    name : str
        The input's name, for messages.
    known_audio : bool
        See :func:`error_from_stderr`.
    timeout_s : float
        Seconds after which ffmpeg is killed.

    Raises
    ------
    NotAudioError, UnsupportedFormatError, AudioDecodeError
    """
    args = _input_args(path, loglevel="level+info") + ["-t", "0"] + _OUTPUT_ARGS
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AudioDecodeError(f"{name}: ffmpeg took more than {timeout_s:g} s to open the file, stopped") from e
    except OSError as e:
        raise UnsupportedFormatError(f"{name}: cannot run ffmpeg ({e})") from e
    stderr = done.stderr.decode("utf-8", "replace")
    header = done.stdout
    if len(header) < 44 or header[:4] != b"RIFF":
        raise error_from_stderr(stderr, name, known_audio=known_audio)
    pos, sr, n_channels = 12, 0, 0
    while pos + 8 <= len(header):
        chunk_id, size = header[pos : pos + 4], struct.unpack("<I", header[pos + 4 : pos + 8])[0]
        if chunk_id == b"fmt ":
            _, n_channels, sr = struct.unpack("<HHI", header[pos + 8 : pos + 16])
        if chunk_id == b"data":
            break
        pos += 8 + size + (size & 1)
    if sr < 1 or n_channels < 1:
        raise error_from_stderr(stderr, name, known_audio=known_audio)
    match = _DURATION_RE.search(stderr)
    duration_s = int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3]) if match else None
    container = _INPUT_RE.search(stderr)
    codec = _AUDIO_STREAM_RE.search(stderr)
    return FfmpegProbe(
        sr=sr,
        n_channels=n_channels,
        duration_s=duration_s,
        container=container[1] if container else None,
        codec=codec[1] if codec else None,
    )


class FfmpegDecoder:
    """Streams float32 frames of a file's first audio stream through an ffmpeg subprocess.

    Parameters
    ----------
    path : str
        File on disk.
    name : str
        The input's name, for messages.
    offset_s : float >= 0
        Start (s); see the module notes on how it is reached.
    known_audio : bool
        See :func:`error_from_stderr`.
    timeout_s : float
        Inactivity timeout (s).

    Attributes
    ----------
    sr, n_channels : int
        Known after the first :meth:`read`.
    error : AudioError or None
        Set when ffmpeg ended with an error after producing some audio (a truncated or
        damaged file); the frames read until then are valid.
    """

    def __init__(
        self,
        path: str,
        name: str,
        *,
        offset_s: float = 0.0,
        known_audio: bool,
        timeout_s: float = FFMPEG_TIMEOUT_S,
    ) -> None:
        self.name = name
        self.known_audio = known_audio
        self.error: AudioError | None = None
        self.sr = 0
        self.n_channels = 0
        self._stderr = tempfile.TemporaryFile()
        self._offset_s = offset_s
        self._seek_s = offset_s - SEEK_PREROLL_S if offset_s > FAST_SEEK_MIN_S else 0.0
        args = _input_args(path, loglevel="error", offset_s=self._seek_s) + _OUTPUT_ARGS
        try:
            self._process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr
            )
        except OSError as e:
            self._stderr.close()
            raise UnsupportedFormatError(f"{name}: cannot run ffmpeg ({e})") from e
        self._pipe = _Pipe(self._process, name, timeout_s)
        self._started = False
        self._finished = False
        self._leftover = bytearray()

    def _start(self) -> None:
        self._started = True
        header = _parse_wav_header(self._pipe)
        if header is None:
            raise self._failure()
        self.sr, self.n_channels = header
        n_skip = int(round(self._offset_s * self.sr)) - int(round(self._seek_s * self.sr))
        while n_skip > 0 and not self._pipe.eof:
            n_skip -= len(self._read_frames(min(n_skip, _SKIP_FRAMES)))

    def _failure(self) -> AudioError:
        self._process.wait()
        return error_from_stderr(_read_text(self._stderr), self.name, known_audio=self.known_audio)

    def read(self, n_frames: int) -> np.ndarray:
        """Up to ``n_frames`` frames as float32 ``(frames, n_channels)``; fewer only at the end."""
        if not self._started:
            self._start()
        return self._read_frames(n_frames)

    def _read_frames(self, n_frames: int) -> np.ndarray:
        frame_bytes = 4 * self.n_channels
        want = n_frames * frame_bytes - len(self._leftover)
        data = self._pipe.read(max(want, 0))
        if self._leftover:
            data[:0] = self._leftover
        n_whole = len(data) // frame_bytes
        self._leftover = data[n_whole * frame_bytes :]
        if self._pipe.eof and not self._finished:
            self._finish()
        frames = np.frombuffer(data, dtype="<f4", count=n_whole * self.n_channels)
        return frames.reshape(n_whole, self.n_channels)

    def _finish(self) -> None:
        self._finished = True
        returncode = self._process.wait()
        stderr = _read_text(self._stderr)
        if returncode != 0 or stderr.strip():
            self.error = error_from_stderr(stderr, self.name, known_audio=True)

    def close(self) -> None:
        """Stop ffmpeg (if still running) and release its pipes."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        self._process.stdout.close()
        self._stderr.close()
