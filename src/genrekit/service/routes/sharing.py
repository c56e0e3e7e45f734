"""Share links: ``/classifications/{id}/share`` (the owner) and ``/shared/{token}`` (anyone with it).

A share token is 32 random bytes; the database keeps only its SHA-256, so the link is
shown once, and sharing again replaces it (the old link stops working).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from genrekit.service.access.keys import hash_secret
from genrekit.service.answers.classification import to_public
from genrekit.service.answers.stored_audio import stored_audio_response
from genrekit.service.deps import PrincipalDep, SessionDep, StateDep
from genrekit.service.errors import NotFoundError
from genrekit.service.problems import problem_responses
from genrekit.service.schemas import ClassificationPublic, SharePublic, VisualsPublic
from genrekit.store import queries
from genrekit.store.tables import Classification

SHARE_TOKEN_BYTES = 32  # random bytes in a share token

owner_router = APIRouter(prefix="/classifications", tags=["sharing"])
public_router = APIRouter(prefix="/shared", tags=["sharing"])

TokenPath = Annotated[str, Path(min_length=16, max_length=128, description="The share token of the link.")]


def _owned(session: Session, classification_id: str, key_id: str | None) -> Classification:
    return queries.get_owned_classification(session, classification_id=classification_id, owner_key_id=key_id)


def _shared(session: Session, token: str) -> Classification:
    row = queries.get_shared(session, share_hash=hash_secret(token))
    if row is None:
        raise NotFoundError("no shared classification has this link (it may have been unshared)")
    return row


@owner_router.post(
    "/{classification_id}/share",
    response_model=SharePublic,
    summary="Make an unguessable link to one of your classifications",
    responses=problem_responses(401, 404, 422),
)
def share_classification(
    classification_id: str, request: Request, session: SessionDep, principal: PrincipalDep
) -> SharePublic:
    row = _owned(session, classification_id, principal.key_id)
    token = secrets.token_urlsafe(SHARE_TOKEN_BYTES)
    queries.set_share_hash(session, row=row, share_hash=hash_secret(token))
    return SharePublic(token=token, url=str(request.url_for("get_shared", token=token).path))


@owner_router.delete(
    "/{classification_id}/share",
    status_code=204,
    response_class=Response,
    summary="Stop sharing a classification (its link stops working)",
    responses=problem_responses(401, 404, 422),
)
def unshare_classification(classification_id: str, session: SessionDep, principal: PrincipalDep) -> Response:
    row = _owned(session, classification_id, principal.key_id)
    queries.set_share_hash(session, row=row, share_hash=None)
    return Response(status_code=204)


@public_router.get(
    "/{token}",
    response_model=ClassificationPublic,
    summary="A shared classification (no key needed)",
    responses=problem_responses(404, 422),
)
def get_shared(token: TokenPath, session: SessionDep) -> ClassificationPublic:
    return to_public(_shared(session, token), cached=True)


@public_router.get(
    "/{token}/visuals",
    response_model=VisualsPublic,
    summary="Waveform and mel image of a shared classification",
    responses=problem_responses(404, 422),
)
def get_shared_visuals(token: TokenPath, session: SessionDep) -> VisualsPublic:
    row = _shared(session, token)
    if row.visuals is None:
        raise NotFoundError("this shared classification has no visuals")
    return VisualsPublic.model_validate(row.visuals)


@public_router.get(
    "/{token}/audio",
    response_class=Response,
    summary="The audio of a shared classification (when the server keeps audio); byte ranges",
    responses={200: {"description": "The audio bytes.", "content": {"audio/*": {}}}, **problem_responses(404, 416, 422)},
)
def get_shared_audio(
    token: TokenPath,
    state: StateDep,
    session: SessionDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    if_range: Annotated[str | None, Header(alias="If-Range")] = None,
) -> Response:
    row = _shared(session, token)
    return stored_audio_response(state, row.id, range_header=range_header, if_range=if_range)
