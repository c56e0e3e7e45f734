"""Errors raised by the service layer itself, each with the HTTP status it maps to.

Library errors (:mod:`genrekit.errors`) are mapped to statuses in
:mod:`genrekit.service.problems`; these carry their status with them.
"""

from __future__ import annotations

from genrekit.errors import GenrekitError


class ServiceError(GenrekitError):
    """Base class of the service's own errors.

    Attributes
    ----------
    status : int
        HTTP status code of the problem response.
    slug : str
        Short name of the problem type (the last part of its ``type`` URI).
    title : str
        Human-readable summary of the problem type.
    retry_after_s : int or None
        Value of the ``Retry-After`` header (seconds), if any.
    headers : dict of str to str
        Further headers of the problem response (e.g. ``Content-Range`` of a 416).
    """

    status = 500
    slug = "internal-error"
    title = "Internal server error"

    def __init__(
        self, detail: str, *, retry_after_s: int | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after_s = retry_after_s
        self.headers = dict(headers or {})


class BadRequestError(ServiceError):
    """The request is malformed (neither file nor url, both, an unreadable body)."""

    status = 400
    slug = "bad-request"
    title = "Bad request"


class UrlRefusedError(BadRequestError):
    """The URL has a bad scheme or points at an address the service will not reach (SSRF guard)."""

    slug = "url-refused"
    title = "URL refused"


class UnauthorizedError(ServiceError):
    """No API key, or one that is unknown or revoked, on a server that needs keys."""

    status = 401
    slug = "unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="genrekit"'})


class ForbiddenError(ServiceError):
    """The API key's role does not allow this (read < editor < admin)."""

    status = 403
    slug = "forbidden"
    title = "Forbidden"


class InvalidFeedbackError(ServiceError):
    """The correction names a genre the model does not know."""

    status = 422
    slug = "invalid-feedback"
    title = "Invalid correction"


class RegistryConflictError(ServiceError):
    """The model registry cannot make this change now (no champion, nothing to roll back to)."""

    status = 409
    slug = "registry-conflict"
    title = "Registry conflict"


class NotFoundError(ServiceError):
    """The resource does not exist."""

    status = 404
    slug = "not-found"
    title = "Not found"


class RangeNotSatisfiableError(ServiceError):
    """The requested byte range starts past the end of the resource."""

    status = 416
    slug = "range-not-satisfiable"
    title = "Range not satisfiable"

    def __init__(self, detail: str, *, n_bytes: int) -> None:
        super().__init__(detail, headers={"Content-Range": f"bytes */{n_bytes}"})


class PayloadTooLargeError(ServiceError):
    """The upload or download is larger than the configured limit."""

    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedBodyTypeError(ServiceError):
    """The request body's Content-Type is none of multipart/form-data, application/json, audio/*."""

    status = 415
    slug = "unsupported-body-type"
    title = "Unsupported request body type"


class RateLimitedError(ServiceError):
    """The client sent more classification requests than allowed per minute."""

    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class UrlFetchError(ServiceError):
    """The remote server of a URL failed (error status, unreachable, bad answer)."""

    status = 502
    slug = "url-fetch-failed"
    title = "Could not fetch the URL"


class ModelNotReadyError(ServiceError):
    """The model is not loaded (failed or still loading)."""

    status = 503
    slug = "model-not-ready"
    title = "Model not ready"


class NotReadyError(ServiceError):
    """The model is not loaded or the database is unreachable (readiness probe)."""

    status = 503
    slug = "not-ready"
    title = "Not ready"


class DatabaseUnavailableError(ServiceError):
    """The database is unreachable (restarting, down, or every connection failed); retry shortly."""

    status = 503
    slug = "database-unavailable"
    title = "Database unavailable"


class StorageFullError(ServiceError):
    """The server's disk for incoming audio is full; nothing of the request was stored."""

    status = 507
    slug = "storage-full"
    title = "Storage full"


class QueueFullError(ServiceError):
    """Too many jobs are already waiting for a worker."""

    status = 503
    slug = "overloaded"
    title = "Service overloaded"


class JobTimeoutError(ServiceError):
    """The job (queueing, decoding and inference) took longer than allowed."""

    status = 504
    slug = "timeout"
    title = "Timed out"
