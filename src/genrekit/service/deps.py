"""FastAPI dependencies as ``Annotated`` aliases (``StateDep``, ``SessionDep``, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from genrekit.service.access.control import Principal, current_principal, require_role
from genrekit.service.config import Settings
from genrekit.service.state import ServiceClassifier, ServiceState

MAX_PAGE = 100  # the largest page any listing route returns (history, search)

PageSizeQuery = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")]
CursorQuery = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page (opaque).")]


def get_state(request: Request) -> ServiceState:
    """The app's :class:`ServiceState`."""
    return request.app.state.genrekit


StateDep = Annotated[ServiceState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    """The app's settings."""
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(state: StateDep) -> Iterator[Session]:
    """A database session for one request."""
    with state.new_session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_classifier(state: StateDep) -> ServiceClassifier:
    """The loaded classifier, or 503 ``model-not-ready``."""
    return state.require_classifier()


ClassifierDep = Annotated[ServiceClassifier, Depends(get_classifier)]


PrincipalDep = Annotated[Principal, Depends(current_principal)]
EditorDep = Annotated[Principal, Depends(require_role("editor"))]
AdminDep = Annotated[Principal, Depends(require_role("admin"))]


def client_key(request: Request) -> str:
    """The client's IP address (as the ASGI server reports it; see uvicorn ``--proxy-headers``)."""
    return request.client.host if request.client else "unknown"


def check_rate_limit(request: Request, state: StateDep, principal: PrincipalDep) -> None:
    """Count this request against the caller's per-minute limit (429 past it): the API key's
    own limit when it has one, else the server's; per key in key mode, per client IP in open mode."""
    if principal.key_id is not None:
        state.rate_limiter.hit(f"key {principal.key_id}", per_minute=principal.rate_limit_per_minute)
    else:
        state.rate_limiter.hit(client_key(request))


RateLimitDep = Annotated[None, Depends(check_rate_limit)]
