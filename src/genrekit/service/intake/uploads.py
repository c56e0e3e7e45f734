"""Receive submitted audio into a temporary file, enforcing the size limit while it streams.

Both an upload (multipart ``file`` field, or a raw ``audio/*`` body) and a URL download end
as an :class:`IncomingAudio`: a temporary file on disk with its SHA-256, size and name. The
body is never held in memory whole: bytes are hashed and written as they arrive, and the
request is refused with 413 as soon as it passes the limit (or at once, when its
``Content-Length`` already says so).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

try:
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header
except ImportError:  # python-multipart < 0.0.13 names its module "multipart"
    from multipart.exceptions import FormParserError  # type: ignore[no-redef]
    from multipart.multipart import MultipartParser, parse_options_header  # type: ignore[no-redef]

from genrekit.errors import EmptyAudioError
from genrekit.service.errors import BadRequestError, PayloadTooLargeError, StorageFullError

MULTIPART_OVERHEAD_BYTES = 64 * 1024  # allowance for boundaries, part headers and small fields
MAX_FIELD_BYTES = 8 * 1024  # longest accepted non-file form field
UPLOAD_FIELD = "file"  # name of the multipart field holding the audio
MAX_NAME_CHARS = 255  # longest file name kept from an upload
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def clean_filename(name: str | None) -> str | None:
    """A client's file name made safe to store and show: its last path segment (``/`` and
    ``\\`` both separate), without control characters (NUL included), at most
    ``MAX_NAME_CHARS`` characters (the extension kept); ``None`` when nothing is left."""
    if not name:
        return None
    base = os.path.basename(name.replace("\\", "/"))
    base = "".join(ch for ch in base if unicodedata.category(ch) != "Cc").strip()
    if base in ("", ".", ".."):
        return None
    if len(base) > MAX_NAME_CHARS:
        stem, dot, extension = base.rpartition(".")
        keep = f"{dot}{extension}" if stem and len(extension) <= 16 else ""
        base = base[: MAX_NAME_CHARS - len(keep)] + keep
    return base


def _disk_full(what: str) -> StorageFullError:
    return StorageFullError(f"the server has no room left to receive the {what}; nothing was stored, retry later")


@dataclass
class IncomingAudio:
    """Submitted audio spooled to a temporary file.

    Attributes
    ----------
    path : Path
        The temporary file; removed by :meth:`discard`.
    n_bytes : int
        Its size in bytes.
    sha256 : str
        Hex SHA-256 of its bytes.
    filename : str or None
        The client's file name, the URL's last path segment, or the page title.
    """

    path: Path
    n_bytes: int
    sha256: str
    filename: str | None

    def read_bytes(self) -> bytes:
        """The whole content (used only when audio is kept)."""
        return self.path.read_bytes()

    def discard(self) -> None:
        """Remove the temporary file."""
        self.path.unlink(missing_ok=True)

    def detach(self) -> Path:
        """Hand the file over to a new owner: it moves to a new temporary name, which
        :meth:`discard` then leaves alone."""
        fd, name = tempfile.mkstemp(prefix="genrekit-kept-", suffix=".audio")
        os.close(fd)
        os.replace(self.path, name)
        return Path(name)

    def copy(self) -> Path:
        """A second name (a hard link, else a copy) of the file for a background job to own and remove."""
        fd, name = tempfile.mkstemp(prefix="genrekit-kept-", suffix=".audio")
        os.close(fd)
        os.unlink(name)
        try:
            os.link(self.path, name)
        except OSError:
            shutil.copyfile(self.path, name)
        return Path(name)


class SpoolWriter:
    """Write chunks to a new temporary file, hashing and counting them against a limit.

    Parameters
    ----------
    max_bytes : int
        Largest accepted content; one more byte raises :class:`PayloadTooLargeError`.
    what : str
        Noun used in the error message (``"upload"``, ``"download"``).
    """

    def __init__(self, max_bytes: int, what: str = "upload") -> None:
        self.max_bytes = max_bytes
        self.what = what
        self.n_bytes = 0
        self._digest = hashlib.sha256()
        try:
            fd, name = tempfile.mkstemp(prefix="genrekit-", suffix=".audio")
        except OSError as error:
            if error.errno in _DISK_FULL:
                raise _disk_full(what) from error
            raise
        self.path = Path(name)
        self._handle: BinaryIO = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``; raises :class:`PayloadTooLargeError` past ``max_bytes``."""
        self.n_bytes += len(chunk)
        if self.n_bytes > self.max_bytes:
            raise PayloadTooLargeError(
                f"the {self.what} is larger than the limit of {self.max_bytes / (1024 * 1024):g} MiB"
            )
        self._digest.update(chunk)
        try:
            self._handle.write(chunk)
        except OSError as error:
            if error.errno in _DISK_FULL:
                self.abort()
                raise _disk_full(self.what) from error
            raise

    def finish(self, filename: str | None) -> IncomingAudio:
        """Close the file and describe it; an empty content raises :class:`EmptyAudioError`."""
        try:
            self._handle.close()
        except OSError as error:
            if error.errno in _DISK_FULL:
                self.abort()
                raise _disk_full(self.what) from error
            raise
        if self.n_bytes == 0:
            self.abort()
            raise EmptyAudioError(f"the {self.what} is empty")
        return IncomingAudio(self.path, self.n_bytes, self._digest.hexdigest(), filename)

    def abort(self) -> None:
        """Close and remove the file (a close failing for a full disk changes nothing)."""
        try:
            self._handle.close()
        except OSError:
            pass
        self.path.unlink(missing_ok=True)


def check_content_length(header: str | None, max_bytes: int, *, nominal_bytes: int | None = None) -> None:
    """Refuse early (413) a body whose declared length already passes ``max_bytes``.

    ``nominal_bytes`` is the limit quoted in the message (default ``max_bytes``), e.g. the
    file limit when ``max_bytes`` includes the multipart overhead.
    """
    if header is None:
        return
    try:
        declared = int(header)
    except ValueError as error:
        raise BadRequestError(f"invalid Content-Length {header!r}") from error
    if declared > max_bytes:
        nominal = max_bytes if nominal_bytes is None else nominal_bytes
        raise PayloadTooLargeError(
            f"the request body ({declared} bytes) is larger than the limit of {nominal / (1024 * 1024):g} MiB"
        )


async def receive_raw(stream: AsyncIterator[bytes], *, max_bytes: int, filename: str | None) -> IncomingAudio:
    """Spool a raw body (``audio/*``, ``application/octet-stream``) to a temporary file."""
    writer = SpoolWriter(max_bytes)
    try:
        async for chunk in stream:
            writer.write(chunk)
    except BaseException:
        writer.abort()
        raise
    return writer.finish(filename)


async def receive_multipart(stream: AsyncIterator[bytes], *, content_type: str, max_bytes: int) -> IncomingAudio:
    """Spool the ``file`` part of a ``multipart/form-data`` body to a temporary file.

    Parameters
    ----------
    stream : async iterator of bytes
        The request body.
    content_type : str
        The request's ``Content-Type`` header (holds the boundary).
    max_bytes : int
        Largest accepted file; the whole body may exceed it by ``MULTIPART_OVERHEAD_BYTES``.

    Raises
    ------
    BadRequestError
        Malformed multipart, no ``file`` part, or several.
    PayloadTooLargeError
        The file (or the body) is too large.
    """
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequestError("multipart/form-data without a boundary")
    state = _MultipartState(max_bytes)
    callbacks = {
        "on_part_begin": state.on_part_begin,
        "on_header_field": state.on_header_field,
        "on_header_value": state.on_header_value,
        "on_header_end": state.on_header_end,
        "on_headers_finished": state.on_headers_finished,
        "on_part_data": state.on_part_data,
        "on_part_end": state.on_part_end,
    }
    n_body = 0
    body_limit = max_bytes + MULTIPART_OVERHEAD_BYTES
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        async for chunk in stream:
            n_body += len(chunk)
            if n_body > body_limit:
                raise PayloadTooLargeError(f"the upload is larger than the limit of {max_bytes / (1024 * 1024):g} MiB")
            parser.write(chunk)
        parser.finalize()
    except FormParserError as error:
        state.abort()
        raise BadRequestError(f"malformed multipart body: {error}") from error
    except BaseException:
        state.abort()
        raise
    if state.writer is None or not state.file_done:
        state.abort()
        raise BadRequestError(
            f"the multipart body has no complete '{UPLOAD_FIELD}' part; send the audio as "
            f"-F '{UPLOAD_FIELD}=@song.mp3', or JSON {{\"url\": ...}}"
        )
    return state.writer.finish(state.filename)


class _MultipartState:
    """Callbacks of the streaming multipart parser: the ``file`` part goes to a SpoolWriter."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.writer: SpoolWriter | None = None
        self.filename: str | None = None
        self.file_done = False
        self._in_file = False
        self._field_bytes = 0
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""

    def on_part_begin(self) -> None:
        self._in_file = False
        self._field_bytes = 0
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name != UPLOAD_FIELD:
            if b"filename" in options:
                raise BadRequestError(
                    f"the audio must be in the multipart field '{UPLOAD_FIELD}', but this file came in field "
                    f"{name!r}; send it as -F '{UPLOAD_FIELD}=@song.mp3'"
                )
            return
        if self.writer is not None:
            raise BadRequestError(f"send one '{UPLOAD_FIELD}' part per request")
        raw_filename = options.get(b"filename")
        self.filename = clean_filename(raw_filename.decode("utf-8", "replace")) if raw_filename else None
        self.writer = SpoolWriter(self.max_bytes)
        self._in_file = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file and self.writer is not None:
            self.writer.write(data[start:end])
            return
        self._field_bytes += end - start
        if self._field_bytes > MAX_FIELD_BYTES:
            raise BadRequestError(
                f"the audio must be in the multipart field '{UPLOAD_FIELD}'; other form fields are limited to "
                f"{MAX_FIELD_BYTES} bytes"
            )

    def on_part_end(self) -> None:
        if self._in_file:
            self.file_done = True
        self._in_file = False

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
