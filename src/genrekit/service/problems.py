"""RFC 9457 problem details: one mapping from exceptions to ``application/problem+json``.

Every error response of the service, whatever raised it (a genrekit library error, a
service error, FastAPI's request validation, an unknown route), goes through
:func:`problem_response`, so clients see one shape::

    {"type": "/problems/not-audio", "title": "Not audio", "status": 415,
     "detail": "...", "instance": "/api/v1/classify"}

``type`` is a relative URI reference that the service itself resolves (``GET /problems/{slug}``).
"""

from __future__ import annotations

import http
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from genrekit import errors as lib
from genrekit.service.errors import BadRequestError, DatabaseUnavailableError, NotFoundError, ServiceError
from genrekit.store import errors as store

logger = logging.getLogger("genrekit.service")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(description="URI reference naming the problem type; GET it for a description.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="HTTP status code.")
    detail: str = Field(description="Explanation specific to this occurrence.")
    instance: str = Field(description="Path of the request that failed.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Validation errors (only for request validation problems)."
    )


@dataclass(frozen=True)
class ProblemType:
    """Status, slug and title of one problem type."""

    status: int
    slug: str
    title: str
    description: str


# Library errors, most specific first (the first isinstance match wins).
_LIBRARY_ERRORS: tuple[tuple[type[BaseException], ProblemType], ...] = (
    (
        lib.NotAudioError,
        ProblemType(415, "not-audio", "Not audio", "The content is not audio, whatever its name or declared type."),
    ),
    (
        lib.UnsupportedFormatError,
        ProblemType(415, "unsupported-format", "Unsupported audio format", "The container or codec cannot be decoded."),
    ),
    (
        lib.AudioTooLongError,
        ProblemType(422, "audio-too-long", "Audio too long", "The decoded audio is longer than the service accepts."),
    ),
    (
        lib.EmptyAudioError,
        ProblemType(422, "empty-audio", "Empty audio", "The audio has no samples, or only digital silence."),
    ),
    (
        lib.AudioDecodeError,
        ProblemType(422, "undecodable-audio", "Undecodable audio", "The audio is corrupt or truncated."),
    ),
    (
        lib.AudioError,
        ProblemType(422, "bad-audio", "Unusable audio", "The audio could not be used."),
    ),
    (
        lib.InvalidParameterError,
        ProblemType(422, "invalid-parameter", "Invalid parameter", "A parameter is out of its allowed range."),
    ),
    (lib.BundleError, ProblemType(503, "model-not-ready", "Model not ready", "The model bundle could not be loaded.")),
)

DATABASE_RETRY_AFTER_S = 5  # Retry-After (seconds) of a 503 database-unavailable


def is_database_outage(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached (down, restarting, connection
    lost, pool exhausted) rather than that a statement is wrong."""
    if isinstance(error, sa_exc.DBAPIError):
        return error.connection_invalidated or isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError))
    return isinstance(error, (sa_exc.TimeoutError, sa_exc.DisconnectionError))


def database_unavailable(error: BaseException) -> DatabaseUnavailableError:
    """The 503 answer to a database outage (the driver's message is logged, never sent)."""
    message = (str(error).strip().splitlines() or [""])[0][:200]
    logger.warning("database unavailable: %s: %s", type(error).__name__, message)
    return DatabaseUnavailableError(
        "the database cannot be reached right now; retry shortly", retry_after_s=DATABASE_RETRY_AFTER_S
    )


# Storage errors answer as the service's own error of the same meaning (same status, slug, title).
_STORE_ERRORS: tuple[tuple[type[store.StoreError], type[ServiceError]], ...] = (
    (store.NotFound, NotFoundError),
    (store.BadCursor, BadRequestError),
)

_INTERNAL = ProblemType(500, "internal-error", "Internal server error", "An unexpected error; it has been logged.")
_VALIDATION = ProblemType(
    422, "validation-error", "Invalid request", "A parameter or the body does not match the API schema."
)


def _all_service_error_types() -> list[type[ServiceError]]:
    found: list[type[ServiceError]] = []
    stack = [ServiceError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


def problem_catalogue() -> dict[str, ProblemType]:
    """Every problem type the service can answer with, by slug."""
    catalogue = {pt.slug: pt for _, pt in _LIBRARY_ERRORS}
    catalogue[_INTERNAL.slug] = _INTERNAL
    catalogue[_VALIDATION.slug] = _VALIDATION
    for cls in _all_service_error_types():
        catalogue.setdefault(cls.slug, ProblemType(cls.status, cls.slug, cls.title, (cls.__doc__ or "").strip()))
    return catalogue


def problem_type_for(error: BaseException) -> ProblemType:
    """The problem type of an exception (500 ``internal-error`` when unknown)."""
    if isinstance(error, ServiceError):
        return ProblemType(error.status, error.slug, error.title, "")
    for store_cls, service_cls in _STORE_ERRORS:
        if isinstance(error, store_cls):
            return ProblemType(service_cls.status, service_cls.slug, service_cls.title, "")
    for cls, problem_type in _LIBRARY_ERRORS:
        if isinstance(error, cls):
            return problem_type
    return _INTERNAL


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    """Build an ``application/problem+json`` response.

    ``slug=None`` gives ``type: about:blank`` (a plain HTTP status with no extra meaning).
    """
    body: dict[str, Any] = {
        "type": f"{PROBLEM_BASE}{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = jsonable_encoder(errors)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def _genrekit_error_handler(request: Request, error: Exception) -> JSONResponse:
    problem_type = problem_type_for(error)
    headers = dict(getattr(error, "headers", None) or {})
    retry_after = getattr(error, "retry_after_s", None)
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    if problem_type.status >= 500 and problem_type.status not in (503, 504, 502):
        logger.exception("internal error on %s", request.url.path, exc_info=error)
    return problem_response(
        request,
        status=problem_type.status,
        title=problem_type.title,
        detail=str(error) or problem_type.title,
        slug=problem_type.slug,
        headers=headers or None,
    )


def _error_line(item: dict[str, Any]) -> str:
    """``"where: what"`` for one validation error; a body that is not JSON at all is named so."""
    where = ".".join(str(p) for p in item["loc"])
    if item["type"] == "json_invalid":
        where = "request body"
    return f"{where}: {item['msg']}" if where else str(item["msg"])


async def _validation_error_handler(request: Request, error: RequestValidationError) -> JSONResponse:
    details = [
        {"loc": list(item.get("loc", ())), "msg": str(item.get("msg", "")), "type": str(item.get("type", ""))}
        for item in error.errors()
    ]
    summary = "; ".join(_error_line(d) for d in details[:5])
    return problem_response(
        request,
        status=_VALIDATION.status,
        title=_VALIDATION.title,
        detail=summary or _VALIDATION.title,
        slug=_VALIDATION.slug,
        errors=details,
    )


async def _http_exception_handler(request: Request, error: StarletteHTTPException) -> JSONResponse:
    try:
        phrase = http.HTTPStatus(error.status_code).phrase
    except ValueError:
        phrase = "Error"
    detail = error.detail if isinstance(error.detail, str) else phrase
    headers = dict(error.headers) if error.headers else {}
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(request, status=error.status_code, title=phrase, detail=detail, headers=headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path (Starlette names only the first matching route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match != Match.NONE and route_methods:
            path_regex = getattr(route, "path_regex", None)
            if path_regex is None or path_regex.match(request.url.path):
                methods |= set(route_methods)
    return sorted(methods)


async def _unexpected_error_handler(request: Request, error: Exception) -> JSONResponse:
    if is_database_outage(error):
        return await _genrekit_error_handler(request, database_unavailable(error))
    logger.error("unexpected error on %s", request.url.path, exc_info=error)
    return problem_response(
        request, status=500, title=_INTERNAL.title, detail=_INTERNAL.description, slug=_INTERNAL.slug
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Register the one mapping from exceptions to problem+json on ``app``."""
    app.add_exception_handler(lib.GenrekitError, _genrekit_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)  # type: ignore[arg-type]
    app.add_exception_handler(sa_exc.SQLAlchemyError, _unexpected_error_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)

    @app.get(PROBLEM_BASE + "{slug}", include_in_schema=False)
    async def describe_problem(slug: str) -> HTMLResponse:
        problem_type = problem_catalogue().get(slug)
        if problem_type is None:
            raise StarletteHTTPException(404, f"no problem type {slug!r}")
        return HTMLResponse(
            f"<!doctype html><title>{problem_type.title}</title><h1>{problem_type.title}</h1>"
            f"<p>HTTP {problem_type.status}. {problem_type.description}</p>"
        )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem+json bodies for ``statuses``."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "description": http.HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
        }
        for status in statuses
    }
