"""Serve a classification's stored audio, whole (200) or one byte range (206), so that a
browser's ``<audio>`` element can seek in it.

The bytes are read from the database in chunks of ``CHUNK_BYTES`` while the response
streams (``substr`` in SQL), so neither a whole file nor a seek loads all of it in memory.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.responses import StreamingResponse

from genrekit.service.answers.ranges import if_range_allows, parse_range
from genrekit.service.errors import NotFoundError
from genrekit.service.state import ServiceState
from genrekit.store import queries

CHUNK_BYTES = 1024 * 1024  # bytes read from the database per query while streaming


def audio_etag(sha256: str) -> str:
    """Strong entity tag of stored audio: its SHA-256, quoted."""
    return f'"{sha256}"'


def _chunks(state: ServiceState, classification_id: str, first: int, n_bytes: int) -> Iterator[bytes]:
    position, end = first, first + n_bytes
    while position < end:
        with state.new_session() as session:
            chunk = queries.read_audio_bytes(
                session, classification_id=classification_id, start=position, n_bytes=min(CHUNK_BYTES, end - position)
            )
        if not chunk:
            return
        yield chunk
        position += len(chunk)


def stored_audio_response(
    state: ServiceState, classification_id: str, *, range_header: str | None, if_range: str | None
) -> StreamingResponse:
    """The stored audio of a classification as a streaming response.

    Parameters
    ----------
    state : ServiceState
    classification_id : str
    range_header : str or None
        The request's ``Range`` header (``bytes=first-last``, ``bytes=first-``, ``bytes=-n``).
    if_range : str or None
        The request's ``If-Range`` header; a range is honoured only when it is this audio's ETag.

    Returns
    -------
    StreamingResponse
        200 with all the bytes, or 206 with one range and ``Content-Range``; both with
        ``Accept-Ranges: bytes``, ``ETag``, ``Content-Length``.

    Raises
    ------
    NotFoundError
        The server keeps no audio, or none for this classification (404).
    RangeNotSatisfiableError
        The range starts past the end (416, with ``Content-Range: bytes */size``).
    """
    if not state.settings.keeps_audio:
        raise NotFoundError("this server does not keep submitted audio (GENREKIT_KEEP_AUDIO is off)")
    with state.new_session() as session:
        meta = queries.get_audio_meta(session, classification_id=classification_id)
    if meta is None:
        raise NotFoundError(f"no stored audio for classification {classification_id!r}")
    etag = audio_etag(meta.sha256)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Content-Disposition": f'inline; filename="{classification_id}"',
        "X-Content-Type-Options": "nosniff",
    }
    byte_range = parse_range(range_header, meta.n_bytes) if if_range_allows(if_range, etag) else None
    if byte_range is None:
        first, n_bytes, status = 0, meta.n_bytes, 200
    else:
        first, n_bytes, status = byte_range.first, byte_range.n_bytes, 206
        headers["Content-Range"] = byte_range.content_range
    headers["Content-Length"] = str(n_bytes)
    body = _chunks(state, classification_id, first, n_bytes)
    return StreamingResponse(body, status_code=status, media_type=meta.media_type, headers=headers)
