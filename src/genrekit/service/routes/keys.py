"""``/keys``: API keys, for the ``admin`` role (the same as ``genrekit keys``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from genrekit.service.access import keys
from genrekit.service.deps import AdminDep, SessionDep
from genrekit.service.errors import NotFoundError
from genrekit.service.problems import problem_responses
from genrekit.service.schemas import KeyCreate, KeyCreatedPublic, KeyPublic, KeysPublic

router = APIRouter(prefix="/keys", tags=["keys"])

KeyIdPath = Annotated[str, Path(max_length=32, description="Public id of the key.")]


def _public(info: keys.KeyInfo) -> KeyPublic:
    return KeyPublic.model_validate(info, from_attributes=True)


@router.get("", response_model=KeysPublic, summary="Every API key (never their secrets)", responses=problem_responses(401, 403))
def list_keys(session: SessionDep, _admin: AdminDep) -> KeysPublic:
    return KeysPublic(data=[_public(info) for info in keys.list_keys(session)])


@router.post(
    "",
    response_model=KeyCreatedPublic,
    status_code=201,
    summary="Create an API key; the answer is the only time its secret is shown",
    responses=problem_responses(400, 401, 403, 422),
)
def create_key(body: KeyCreate, session: SessionDep, _admin: AdminDep) -> KeyCreatedPublic:
    info, secret = keys.create_key(
        session, role=body.role, name=body.name, rate_limit_per_minute=body.rate_limit_per_minute
    )
    return KeyCreatedPublic(**_public(info).model_dump(), key=secret)


@router.delete(
    "/{key_id}",
    response_model=KeyPublic,
    summary="Revoke an API key (at once)",
    responses=problem_responses(401, 403, 404, 422),
)
def revoke_key(key_id: KeyIdPath, session: SessionDep, _admin: AdminDep) -> KeyPublic:
    info = keys.revoke_key(session, key_id=key_id)
    if info is None:
        raise NotFoundError(f"no API key {key_id!r}")
    return _public(info)
