"""Turn a ``POST /classify`` request body into spooled audio, whatever form it takes.

* ``multipart/form-data`` with a ``file`` part: an upload;
* ``audio/*`` or ``application/octet-stream``: the raw bytes of an upload;
* ``application/json`` ``{"url": ...}``: a link, fetched by :func:`genrekit.service.intake.fetch.fetch_audio`.
"""

from __future__ import annotations


from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from genrekit.service.config import Settings
from genrekit.service.errors import BadRequestError, PayloadTooLargeError, UnsupportedBodyTypeError
from genrekit.service.intake.fetch import fetch_audio
from genrekit.service.intake.uploads import (
    MULTIPART_OVERHEAD_BYTES,
    clean_filename,
    parse_options_header,
    IncomingAudio,
    check_content_length,
    receive_multipart,
    receive_raw,
)
from genrekit.service.schemas import ClassifyUrlRequest

MAX_JSON_BYTES = 16 * 1024  # longest accepted JSON body
RAW_AUDIO_TYPES = ("application/octet-stream",)  # accepted raw upload types besides audio/*
FORMS = ("multipart", "json", "raw")  # the request bodies POST /classify accepts


def upload_name(sha256: str) -> str:
    """Name of an upload that came without one: ``upload-`` and the start of its SHA-256."""
    return f"upload-{sha256[:8]}"


def raw_filename(content_disposition: str | None, query_name: str | None) -> str | None:
    """The file name of a raw upload: the ``filename`` query parameter, else ``Content-Disposition``'s."""
    name = query_name
    if not name and content_disposition:
        _, options = parse_options_header(content_disposition)
        raw = options.get(b"filename")
        name = raw.decode("utf-8", "replace") if raw else None
    if not name:
        return None
    return clean_filename(name)


async def receive_submission(
    request: Request, settings: Settings, *, forms: tuple[str, ...] = FORMS
) -> tuple[IncomingAudio, str]:
    """Spool the submitted audio to a temporary file.

    ``forms`` are the bodies this route accepts (``multipart``, ``json``, ``raw``); another
    gets 415 naming the route for it.

    Returns
    -------
    incoming : IncomingAudio
        The spooled audio; the caller must :meth:`~IncomingAudio.discard` it.
    name : str
        Name for the result: the file name, ``upload-<sha256 prefix>``, or the URL.

    Raises
    ------
    BadRequestError (400), UrlRefusedError (400), PayloadTooLargeError (413),
    UnsupportedBodyTypeError (415), RequestValidationError (422), UrlFetchError (502),
    JobTimeoutError (504), EmptyAudioError (422)
    """
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    declared = request.headers.get("content-length")
    form = _form_of(media_type)
    if form is not None and form not in forms:
        raise UnsupportedBodyTypeError(
            f"Content-Type {media_type!r} is not accepted here; send it to {_ROUTE_OF_FORM[form]}"
        )
    if media_type == "application/json":
        url = await _read_url(request)
        incoming = await fetch_audio(
            url,
            allow_private=settings.allow_private_urls,
            max_bytes=settings.url_max_bytes,
            timeout_s=settings.url_timeout_s,
            max_redirects=settings.url_max_redirects,
        )
        return incoming, url
    if media_type == "multipart/form-data":
        limit = settings.max_upload_bytes
        check_content_length(declared, limit + MULTIPART_OVERHEAD_BYTES, nominal_bytes=limit)
        incoming = await receive_multipart(request.stream(), content_type=content_type, max_bytes=limit)
        return incoming, incoming.filename or upload_name(incoming.sha256)
    if form == "raw":
        check_content_length(declared, settings.max_upload_bytes)
        filename = raw_filename(request.headers.get("content-disposition"), request.query_params.get("filename"))
        incoming = await receive_raw(request.stream(), max_bytes=settings.max_upload_bytes, filename=filename)
        return incoming, incoming.filename or upload_name(incoming.sha256)
    if not media_type:
        raise BadRequestError(
            "send the audio as multipart/form-data (field 'file'), as raw audio bytes, or JSON {\"url\": ...}"
        )
    raise UnsupportedBodyTypeError(
        f"Content-Type {media_type!r} is not accepted; use multipart/form-data, application/json "
        "or application/octet-stream"
    )


_ROUTE_OF_FORM = {
    "multipart": "POST /api/v1/classify",
    "json": "POST /api/v1/classify/url",
    "raw": "POST /api/v1/classify/raw",
}


def _form_of(media_type: str) -> str | None:
    if media_type == "multipart/form-data":
        return "multipart"
    if media_type == "application/json":
        return "json"
    if media_type.startswith("audio/") or media_type in RAW_AUDIO_TYPES:
        return "raw"
    return None


async def _read_url(request: Request) -> str:
    """The ``url`` of a small JSON body (422 with the validation errors when malformed)."""
    check_content_length(request.headers.get("content-length"), MAX_JSON_BYTES)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_JSON_BYTES:
            raise PayloadTooLargeError(f"the JSON body is limited to {MAX_JSON_BYTES} bytes")
        chunks.append(chunk)
    try:
        payload = ClassifyUrlRequest.model_validate_json(b"".join(chunks))
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from error
    return payload.url
