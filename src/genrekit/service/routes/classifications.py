"""``/classifications``: stored results, history, visuals and (optionally) audio."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from genrekit.service.answers.classification import MEDIA_TYPES, resume_full_timeline, to_public, to_summary
from genrekit.service.answers.stored_audio import stored_audio_response
from genrekit.service.deps import CursorQuery, PageSizeQuery, PrincipalDep, SessionDep, StateDep
from genrekit.service.errors import NotFoundError
from genrekit.service.problems import problem_responses
from genrekit.service.schemas import ClassificationPublic, ClassificationsPublic, VisualsPublic
from genrekit.service.work.visual_jobs import VISUALS_WAIT_S
from genrekit.store import queries

router = APIRouter(prefix="/classifications", tags=["classifications"])


@router.get(
    "",
    response_model=ClassificationsPublic,
    summary="History of classifications, newest first",
    responses=problem_responses(400, 422),
)
def list_classifications(
    session: SessionDep,
    principal: PrincipalDep,
    genre: Annotated[str | None, Query(max_length=200, description="Only those whose top genre is this label.")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Only those whose name contains this text (any case).")
    ] = None,
    limit: PageSizeQuery = 20,
    cursor: CursorQuery = None,
) -> ClassificationsPublic:
    rows, next_cursor = queries.list_classifications(
        session, genre=genre or None, name_contains=q or None, limit=limit, cursor=cursor or None, owner_key_id=principal.key_id
    )
    return ClassificationsPublic(data=[to_summary(row) for row in rows], next_cursor=next_cursor)


@router.get(
    "/{classification_id}",
    response_model=ClassificationPublic,
    summary="One stored classification (permalink)",
    responses=problem_responses(404, 422),
)
def get_classification(
    classification_id: str, session: SessionDep, state: StateDep, principal: PrincipalDep
) -> ClassificationPublic:
    row = queries.get_owned_classification(session, classification_id=classification_id, owner_key_id=principal.key_id)
    has_audio = state.settings.keeps_audio and queries.has_audio(session, classification_id=classification_id)
    if has_audio:
        resume_full_timeline(state, session, row)
    return to_public(row, cached=True, timelines=state.timelines, has_audio=has_audio)


@router.delete(
    "/{classification_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a stored classification and its audio",
    responses={204: {"description": "Deleted (the result, its visuals and its audio)."}, **problem_responses(404, 422)},
)
async def delete_classification(classification_id: str, state: StateDep, principal: PrincipalDep) -> Response:
    deleted = await run_in_threadpool(_delete, state, classification_id, principal.key_id)
    if not deleted:
        raise NotFoundError(f"no classification {classification_id!r}")
    return Response(status_code=204)


def _delete(state: StateDep, classification_id: str, owner_key_id: str | None) -> bool:
    with state.new_session() as session:
        if queries.get_classification(session, classification_id=classification_id, owner_key_id=owner_key_id) is None:
            return False
        return queries.delete_classification(session, classification_id=classification_id)


@router.get(
    "/{classification_id}/visuals",
    response_model=VisualsPublic,
    summary="Waveform peaks and mel image of a classified input",
    responses=problem_responses(404, 422),
)
async def get_visuals(classification_id: str, state: StateDep, principal: PrincipalDep) -> VisualsPublic:
    """The display data; computed right after the answer, so a request may wait for it a moment."""
    found, visuals = await run_in_threadpool(_stored_visuals, state, classification_id, principal.key_id)
    if found and visuals is None and state.visuals.running(classification_id):
        await state.visuals.wait(classification_id, VISUALS_WAIT_S)
        found, visuals = await run_in_threadpool(_stored_visuals, state, classification_id, principal.key_id)
    if not found:
        raise NotFoundError(f"no classification {classification_id!r}")
    if visuals is None:
        raise NotFoundError(f"classification {classification_id!r} has no visuals")
    return VisualsPublic.model_validate(visuals)


def _stored_visuals(state: StateDep, classification_id: str, owner_key_id: str | None) -> tuple[bool, dict[str, Any] | None]:
    """Whether the classification exists (for this owner), and its visuals."""
    with state.new_session() as session:
        row = queries.get_classification(session, classification_id=classification_id, owner_key_id=owner_key_id)
        return row is not None, (row.visuals if row is not None else None)


_AUDIO_HEADERS = {
    "Accept-Ranges": {"description": "Always `bytes`: byte ranges are served.", "schema": {"type": "string"}},
    "ETag": {"description": "Strong entity tag: the SHA-256 of the audio, quoted.", "schema": {"type": "string"}},
    "Content-Length": {"description": "Bytes in this response.", "schema": {"type": "integer"}},
}
_AUDIO_CONTENT = {
    media_type: {"schema": {"type": "string", "format": "binary"}}
    for media_type in sorted({*MEDIA_TYPES.values(), "application/octet-stream"})
}
_CONTENT_RANGE = {
    "description": "The range sent and the total size: `bytes first-last/size`.",
    "schema": {"type": "string"},
}


@router.get(
    "/{classification_id}/audio",
    response_class=Response,
    summary="The submitted audio (only when the server keeps audio); byte ranges for seeking",
    description=(
        "The audio bytes as submitted, served only when the server keeps audio (see `GET /config`). "
        "A `Range: bytes=first-last` (or `first-`, or `-suffix_length`) header gets that one range with "
        "206 Partial Content, so players can seek; several ranges, another unit or a malformed header get "
        "the whole audio (200). A range starting past the end is 416 with `Content-Range: bytes */size`. "
        "With `If-Range`, the range is served only if it equals the current `ETag`."
    ),
    responses={
        200: {"description": "All the audio bytes.", "content": _AUDIO_CONTENT, "headers": _AUDIO_HEADERS},
        206: {
            "description": "One byte range of the audio.",
            "content": _AUDIO_CONTENT,
            "headers": {**_AUDIO_HEADERS, "Content-Range": _CONTENT_RANGE},
        },
        **problem_responses(404, 422),
        416: {
            **problem_responses(416)[416],
            "headers": {
                "Content-Range": {"description": "The size of the audio: `bytes */size`.", "schema": {"type": "string"}}
            },
        },
    },
)
def get_audio(
    classification_id: str,
    state: StateDep,
    session: SessionDep,
    principal: PrincipalDep,
    range_header: Annotated[
        str | None,
        Header(alias="Range", description="One byte range, e.g. `bytes=0-` or `bytes=1000-1999`."),
    ] = None,
    if_range: Annotated[
        str | None,
        Header(alias="If-Range", description="Serve the range only if the audio's ETag is this."),
    ] = None,
) -> Response:
    queries.get_owned_classification(session, classification_id=classification_id, owner_key_id=principal.key_id)
    return stored_audio_response(state, classification_id, range_header=range_header, if_range=if_range)
