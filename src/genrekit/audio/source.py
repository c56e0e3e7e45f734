"""Where encoded audio comes from: a path, bytes, or a binary file object.

:class:`AudioSource` gives the decoders what each needs (a name for messages, the first
bytes for sniffing, something soundfile can open, a path ffmpeg can read) and cleans up
any temporary file it had to write.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, BinaryIO, Union

from genrekit.audio.sniff import SNIFF_BYTES
from genrekit.errors import AudioError, EmptyAudioError, InvalidParameterError

Source = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]

_COPY_CHUNK_BYTES = 1 << 20  # bytes per read when spooling a file object to disk


class AudioSource:
    """An opened audio source; use as a context manager.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview or binary file object
        Paths are read in place. Bytes are read from memory (and written to a temporary
        file only if ffmpeg must decode them). A file object is read from its current
        position; one that cannot seek, or is not at its start, is first copied to a
        temporary file.

    Raises
    ------
    InvalidParameterError
        ``source`` is none of the accepted kinds (a text file object, a number, ...).
    AudioError
        The path does not exist, is a folder, or cannot be read.
    EmptyAudioError
        The source holds 0 bytes.
    """

    def __init__(self, source: Source) -> None:
        self._path: str | None = None
        self._data: bytes | memoryview | None = None
        self._fileobj: IO[bytes] | None = None
        self._temp_path: str | None = None
        if isinstance(source, (str, os.PathLike)):
            self._open_path(os.fspath(source))
        elif isinstance(source, (bytes, bytearray, memoryview)):
            if isinstance(source, bytes):
                self._data = source
            else:
                view = memoryview(source)
                self._data = view.cast("B") if view.c_contiguous else view.tobytes()
            self.name = f"<{len(self._data)} bytes of audio>"
            self.size = len(self._data)
            self.header = bytes(self._data[:SNIFF_BYTES])
        elif callable(getattr(source, "read", None)):
            self._open_fileobj(source)
        else:
            raise InvalidParameterError(
                f"source must be a path, bytes or a binary file object, got {type(source).__name__}"
            )
        if self.size == 0:
            self.close()
            raise EmptyAudioError(f"{self.name}: the file is empty (0 bytes)")

    def _open_path(self, path: str) -> None:
        self.name = path
        if isinstance(path, bytes):
            path = os.fsdecode(path)
            self.name = path
        try:
            if Path(path).is_dir():
                raise IsADirectoryError(21, "Is a directory", path)
            with open(path, "rb") as handle:
                self.header = handle.read(SNIFF_BYTES)
                self.size = os.fstat(handle.fileno()).st_size
        except OSError as e:
            raise AudioError(f"{path}: cannot read the file ({e.strerror or e})") from e
        self._path = path

    def _open_fileobj(self, fileobj: IO[bytes]) -> None:
        self.name = str(getattr(fileobj, "name", None) or f"<{type(fileobj).__name__}>")
        try:
            seekable = bool(getattr(fileobj, "seekable", lambda: False)()) and fileobj.tell() == 0
            if seekable:
                header = fileobj.read(SNIFF_BYTES)
                self._check_binary(header)
                fileobj.seek(0, io.SEEK_END)
                self.size = fileobj.tell()
                fileobj.seek(0)
                self.header = bytes(header)
                self._fileobj = fileobj
                return
            self._temp_path = self._spool(fileobj)
        except InvalidParameterError:
            raise
        except (OSError, ValueError) as e:
            raise AudioError(f"{self.name}: cannot read the file object ({e})") from e
        self._path = self._temp_path
        with open(self._temp_path, "rb") as handle:
            self.header = handle.read(SNIFF_BYTES)
        self.size = os.path.getsize(self._temp_path)

    @staticmethod
    def _check_binary(chunk: object) -> None:
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise InvalidParameterError(
                f"the file object must be opened in binary mode (its read() gave {type(chunk).__name__})"
            )

    def _spool(self, fileobj: IO[bytes]) -> str:
        handle, temp_path = tempfile.mkstemp(prefix="genrekit-audio-")
        try:
            with os.fdopen(handle, "wb") as out:
                while True:
                    chunk = fileobj.read(_COPY_CHUNK_BYTES)
                    if not chunk:
                        break
                    self._check_binary(chunk)
                    out.write(chunk)
        except BaseException:
            os.unlink(temp_path)
            raise
        return temp_path

    def soundfile_target(self) -> str | IO[bytes]:
        """A path or a seekable binary file object (at its start) for ``soundfile.SoundFile``."""
        if self._path is not None:
            return self._path
        if self._fileobj is not None:
            self._fileobj.seek(0)
            return self._fileobj
        return io.BytesIO(self._data)

    def ffmpeg_path(self) -> str:
        """A path on disk ffmpeg can read (the original file, or a temporary copy)."""
        if self._path is not None:
            return self._path
        handle, temp_path = tempfile.mkstemp(prefix="genrekit-audio-")
        self._temp_path = temp_path
        try:
            with os.fdopen(handle, "wb") as out:
                if self._data is not None:
                    out.write(self._data)
                else:
                    self._fileobj.seek(0)
                    shutil.copyfileobj(self._fileobj, out, _COPY_CHUNK_BYTES)
        except OSError as e:
            raise AudioError(f"{self.name}: cannot write a temporary copy for ffmpeg ({e})") from e
        self._path = temp_path
        return temp_path

    def close(self) -> None:
        """Remove the temporary file, if one was written. The caller's file object stays open."""
        if self._temp_path is not None:
            try:
                os.unlink(self._temp_path)
            except FileNotFoundError:
                pass
            self._temp_path = None

    def __enter__(self) -> AudioSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
