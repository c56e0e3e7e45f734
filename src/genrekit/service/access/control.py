"""Access control: who is calling (:class:`Principal`) and what they may do.

Two modes:

* **open** (the default on loopback): one user, no keys; every request acts as
  :data:`OPEN_PRINCIPAL` (the ``admin`` role, owning the rows without an owner);
* **key mode** (``GENREKIT_REQUIRE_KEYS=1``, or ``genrekit serve`` on a public interface):
  every path except :data:`PUBLIC_PATHS` / :data:`PUBLIC_PREFIXES` needs
  ``Authorization: Bearer <key>``. :class:`AccessMiddleware` denies by default, before any
  route runs, so a route added later is protected without doing anything; routes then ask
  for a role with :func:`require_role`.

Rows a key creates are private to it: lookups filter on ``owner_key_id`` and answer 404
(not 403) for another key's ids, so ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from genrekit.service.access.keys import authenticate, role_rank
from genrekit.service.errors import ForbiddenError, UnauthorizedError
from genrekit.service.problems import database_unavailable, is_database_outage, problem_response

if TYPE_CHECKING:
    from genrekit.service.state import ServiceState

PUBLIC_PATHS = frozenset({"/", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json"})
PUBLIC_PREFIXES = ("/static/", "/docs-assets/", "/problems/", "/api/v1/shared/")
BEARER_CHALLENGE = 'Bearer realm="genrekit"'


@dataclass(frozen=True)
class Principal:
    """The caller of one request.

    Attributes
    ----------
    key_id : str or None
        Public id of the API key; ``None`` in open mode (the single local user).
    role : {"read", "editor", "admin"}
    rate_limit_per_minute : int or None
        The key's own limit; ``None`` uses the server's.
    """

    key_id: str | None
    role: str
    rate_limit_per_minute: int | None = None

    def can(self, role: str) -> bool:
        """Whether this caller has ``role`` or a higher one."""
        return role_rank(self.role) >= role_rank(role)


OPEN_PRINCIPAL = Principal(key_id=None, role="admin")


def is_public_path(path: str) -> bool:
    """Paths anyone may reach in key mode: the page, its assets, docs, probes, metrics, shared links."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _lookup(state: ServiceState, token: str) -> Principal | None:
    with state.new_session() as session:
        info = authenticate(session, secret=token)
    if info is None:
        return None
    return Principal(key_id=info.id, role=info.role, rate_limit_per_minute=info.rate_limit_per_minute)


class AccessMiddleware:
    """Pure ASGI middleware: sets ``request.state.principal``; in key mode answers 401 without a valid key.

    The key itself is never logged nor echoed: a refusal says only that a key is missing or
    not valid.
    """

    def __init__(self, app: ASGIApp, state: ServiceState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_state = scope.setdefault("state", {})
        if not self.state.settings.require_keys:
            request_state["principal"] = OPEN_PRINCIPAL
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        token = bearer_token(request.headers.get("authorization"))
        try:
            principal = await run_in_threadpool(_lookup, self.state, token) if token else None
        except SQLAlchemyError as error:
            if not is_database_outage(error):
                raise
            if not is_public_path(scope.get("path", "")):
                outage = database_unavailable(error)
                response = problem_response(
                    request,
                    status=outage.status,
                    title=outage.title,
                    detail=outage.detail,
                    slug=outage.slug,
                    headers={"Retry-After": str(outage.retry_after_s)},
                )
                await response(scope, receive, send)
                return
            principal = None
        if principal is None and not is_public_path(scope.get("path", "")):
            if token is None:
                detail, challenge = "this server needs an API key: send 'Authorization: Bearer <key>'", BEARER_CHALLENGE
            else:
                detail, challenge = "the API key is not valid (unknown or revoked)", f'{BEARER_CHALLENGE}, error="invalid_token"'
            response = problem_response(
                request,
                status=UnauthorizedError.status,
                title=UnauthorizedError.title,
                detail=detail,
                slug=UnauthorizedError.slug,
                headers={"WWW-Authenticate": challenge},
            )
            await response(scope, receive, send)
            return
        request_state["principal"] = principal
        await self.app(scope, receive, send)


def current_principal(request: Request) -> Principal:
    """The caller, as :class:`AccessMiddleware` found it; 401 when there is none."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise UnauthorizedError("this server needs an API key: send 'Authorization: Bearer <key>'")
    return principal


def require_role(role: str):  # noqa: ANN201 - a FastAPI dependency factory
    """A dependency giving the caller when it has ``role`` or a higher one (403 otherwise)."""
    role_rank(role)

    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if not principal.can(role):
            raise ForbiddenError(f"this needs the {role!r} role; the key has {principal.role!r}")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


def is_loopback_host(host: str) -> bool:
    """Whether binding ``host`` only accepts connections from this machine (``127.0.0.0/8``, ``::1``, ``localhost``)."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
