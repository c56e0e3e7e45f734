"""Random access to short excerpts of encoded audio, decoding only what is read.

Classifying a 4-minute song from a handful of 3 s windows spread over it need not decode the
other 3.5 minutes: :class:`ExcerptReader` seeks to each excerpt, decodes it with a small
margin on both sides, downmixes and resamples it (soxr ``HQ``, as :func:`load_audio`), and
drops the margins. libsndfile seeks sample-exactly in WAV, FLAC, Ogg and MP3, and the first
frame read is placed on the grid where native and output samples coincide, so an excerpt
equals the same span of a full decode to float rounding (checked in the tests) when the
rates are integers; the margins keep the resampler's edge effects, and the frames an MP3
decoder gets wrong right after a seek, out.

Only content libsndfile reads with an exact length can be read this way (``seekable``);
for the formats that go through ffmpeg (M4A/AAC, WebM, ...) callers decode in full with
:func:`~genrekit.audio.iter_audio_blocks`. A read that fails or comes back short (a
damaged or truncated file) raises :class:`~genrekit.errors.AudioDecodeError`; callers may
then fall back to the full decoder, whose failure policy decides what is kept.
"""

from __future__ import annotations

import math

import numpy as np
import soxr

from genrekit.audio.decode import AudioInfo, _downmix, _open_reader, _plan_span, _SoundfileReader
from genrekit.audio.dsp import RESAMPLE_QUALITY, check_rate, resampled_length
from genrekit.audio.source import AudioSource, Source
from genrekit.errors import AudioDecodeError, InvalidParameterError

MARGIN_S = 0.05  # s decoded on each side of an excerpt and dropped after resampling
MIN_MARGIN_FRAMES = 4096  # native frames: an MP3 decoder needs a frame or two after a seek (bit reservoir)


class ExcerptReader:
    """Mono excerpts of ``source`` at ``sr`` Hz; use as a context manager.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview or binary file object
        Encoded audio, recognised from its content.
    sr : number > 0
        Sample rate of the excerpts (Hz).
    max_duration_s : float > 0 or None
        Refuse (``AudioTooLongError``) audio whose header announces more than this.

    Attributes
    ----------
    info : AudioInfo
        The header's description.
    seekable : bool
        Whether :meth:`read` is available (libsndfile content with an exact length).
    n_samples : int or None
        Length of the whole audio at ``sr`` (samples), where known.

    Raises
    ------
    NotAudioError, UnsupportedFormatError, AudioDecodeError, EmptyAudioError, AudioTooLongError, AudioError
        As :func:`~genrekit.audio.load_audio`, for what can be told from the header.
    """

    def __init__(self, source: Source, sr: float, *, max_duration_s: float | None = None) -> None:
        check_rate(sr, "sr")
        self.sr = sr
        self._src = AudioSource(source)
        try:
            self._reader = _open_reader(self._src, 0.0)
        except BaseException:
            self._src.close()
            raise
        try:
            _plan_span(self._reader, 0.0, None, max_duration_s)
        except BaseException:
            self.close()
            raise
        self.info: AudioInfo = self._reader.info
        reader = self._reader
        self.seekable = isinstance(reader, _SoundfileReader) and reader.error is None
        n_native = reader.n_frames_announced if reader.length_is_exact else None
        self.n_samples: int | None = None if n_native is None else resampled_length(n_native, reader.sr, sr)
        # native frames per step of the two rates' common grid (e.g. 441 for 44100 -> 16000 Hz)
        self._native_step = 1
        if float(sr).is_integer() and reader.sr != sr:
            self._native_step = int(reader.sr) // math.gcd(int(sr), int(reader.sr))

    def __enter__(self) -> ExcerptReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the decoder and the source."""
        self._reader.close()
        self._src.close()

    def read(self, start: int, n: int) -> np.ndarray:
        """Samples ``[start, start + n)`` at ``sr``, mono float32, zero-padded past the end.

        Parameters
        ----------
        start : int >= 0
            First sample (at ``sr``).
        n : int > 0
            Number of samples.

        Raises
        ------
        InvalidParameterError
            Not :attr:`seekable`, or ``start``/``n`` out of range.
        AudioDecodeError
            The excerpt could not be decoded, or came back shorter than the header promised.
        """
        if not self.seekable:
            raise InvalidParameterError(f"{self._src.name}: this format cannot be read by excerpts")
        if start < 0 or n < 1:
            raise InvalidParameterError(f"start must be >= 0 and n >= 1, got {start}, {n}")
        reader = self._reader
        assert isinstance(reader, _SoundfileReader)
        native_sr = reader.sr
        n_total = int(reader.n_frames_announced or 0)
        ratio = native_sr / self.sr
        # the first native frame read is on the common grid, so it falls exactly on an output
        # sample and the excerpt lines up with a full decode
        native_step = self._native_step
        margin = max(int(math.ceil(MARGIN_S * native_sr)), MIN_MARGIN_FRAMES)
        first = max(0, int(math.floor((start * ratio - margin) / native_step)) * native_step)
        last = min(n_total, int(math.ceil((start + n) * ratio)) + margin)
        if first >= last:
            return np.zeros(n, dtype=np.float32)
        try:
            frames = reader.read_at(first, last - first)
        except Exception as e:  # libsndfile reports a damaged stream as one of several types
            raise AudioDecodeError(f"{self._src.name}: {e}") from e
        if len(frames) < last - first:
            raise AudioDecodeError(
                f"{self._src.name}: cut short, no audio after {(first + len(frames)) / native_sr:.2f} s "
                f"of the {n_total / native_sr:.2f} s its header announces"
            )
        if not np.isfinite(frames).all():
            raise AudioDecodeError(f"{self._src.name}: the audio contains NaN or infinite samples")
        mono = _downmix(frames)
        if native_sr != self.sr:
            mono = np.asarray(soxr.resample(mono, native_sr, self.sr, quality=RESAMPLE_QUALITY), dtype=np.float32)
        offset = int(round(start - first / ratio))
        out = np.zeros(n, dtype=np.float32)
        piece = mono[offset : offset + n]
        out[: len(piece)] = piece
        if self.n_samples is not None and start + n > self.n_samples:
            out[max(0, self.n_samples - start) :] = 0.0
        return out
