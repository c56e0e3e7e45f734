"""``POST /classify``: an upload or a link in, a stored classification out.

One operation per request body, so generated clients get one typed method each:
``classify`` (multipart upload), ``classify_url`` (JSON link) and ``classify_raw`` (the raw
bytes). ``POST /classify`` also still accepts the other two bodies, undocumented, for
clients written before the split.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from genrekit.service.answers.classification import classify_incoming, follow_with_full_timeline, follow_with_visuals, to_public
from genrekit.service.deps import ClassifierDep, PrincipalDep, RateLimitDep, StateDep
from genrekit.service.intake.submission import FORMS, receive_submission
from genrekit.service.problems import problem_responses
from genrekit.service.schemas import ClassificationPublic
from genrekit.service.state import ServiceState
from genrekit.store import queries

router = APIRouter(prefix="/classify", tags=["classify"])

_ERRORS = (400, 413, 415, 422, 429, 502, 503, 504, 507)
_DESCRIPTION = (
    "The audio is recognised from its content, not its name. The genre comes at once from a few windows spread "
    "over the song; when that timeline has gaps (`timeline.state` is `running`), every window is then classified "
    "in the background and `GET /classifications/{id}` returns the timeline as it fills in, until "
    "`complete` is true. The same bytes submitted again (same SHA-256, same model version) return the stored "
    "result at once with `cached: true` (named after this upload). `Content-Location` is the permalink."
)

_RESPONSE_LINKS = {
    "GetClassification": {
        "operationId": "get_classification",
        "parameters": {"classification_id": "$response.body#/id"},
        "description": "The stored result (poll it while `timeline.state` is `running`).",
    },
    "GetVisuals": {
        "operationId": "get_visuals",
        "parameters": {"classification_id": "$response.body#/id"},
        "description": "Waveform peaks and mel image.",
    },
    "GetAudio": {
        "operationId": "get_audio",
        "parameters": {"classification_id": "$response.body#/id"},
        "description": "The submitted audio, when `has_audio`.",
    },
    "DeleteClassification": {
        "operationId": "delete_classification",
        "parameters": {"classification_id": "$response.body#/id"},
        "description": "Delete the result and its audio.",
    },
}

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The stored classification.",
        "headers": {
            "Content-Location": {
                "description": "Path of the stored result (its permalink).",
                "schema": {"type": "string", "format": "uri-reference"},
            }
        },
        "links": _RESPONSE_LINKS,
    },
    **problem_responses(*_ERRORS),
}


def _body(content: dict[str, Any], description: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "description": description, "content": content}}


_MULTIPART_BODY = _body(
    {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary", "description": "The audio file."}},
                "required": ["file"],
            }
        }
    },
    "The audio file in the multipart field `file`; its file name names the result.",
)
_URL_BODY = _body(
    {"application/json": {"schema": {"$ref": "#/components/schemas/ClassifyUrlRequest"}}},
    "An http(s) link to an audio file or a page yt-dlp understands.",
)
_RAW_BODY = _body(
    {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    "The audio bytes (an `audio/*` Content-Type is accepted too).",
)


async def _classify(
    request: Request, state: ServiceState, forms: tuple[str, ...], *, owner_key_id: str | None
) -> JSONResponse:
    incoming, name = await receive_submission(request, state.settings, forms=forms)
    try:
        row, cached = await classify_incoming(state, incoming, name=name, owner_key_id=owner_key_id)
        follow_with_visuals(state, row, incoming)
        follow_with_full_timeline(state, row, incoming, name=name)
    finally:
        incoming.discard()
    state.metrics.classifications.labels("cached" if cached else "computed").inc()
    has_audio = await run_in_threadpool(_has_audio, state, row.id)
    body = to_public(row, cached=cached, timelines=state.timelines, has_audio=has_audio)
    return JSONResponse(
        body.model_dump(mode="json"),
        headers={"Content-Location": str(request.url_for("get_classification", classification_id=row.id).path)},
    )


def _has_audio(state: ServiceState, classification_id: str) -> bool:
    with state.new_session() as session:
        return queries.has_audio(session, classification_id=classification_id)


@router.post(
    "",
    response_model=ClassificationPublic,
    summary="Classify an uploaded file",
    description="Upload audio as `multipart/form-data`, field `file` (any format). " + _DESCRIPTION,
    responses=RESPONSES,
    openapi_extra=_MULTIPART_BODY,
)
async def classify(
    request: Request, state: StateDep, principal: PrincipalDep, _classifier: ClassifierDep, _rate_limit: RateLimitDep
) -> JSONResponse:
    return await _classify(request, state, FORMS, owner_key_id=principal.key_id)


@router.post(
    "/url",
    response_model=ClassificationPublic,
    summary="Classify a link",
    description='Send `{"url": "https://..."}`. Direct audio links are downloaded; pages that yt-dlp understands '
    "(YouTube, SoundCloud, ...) are resolved to their audio. " + _DESCRIPTION,
    responses=RESPONSES,
    openapi_extra=_URL_BODY,
)
async def classify_url(
    request: Request, state: StateDep, principal: PrincipalDep, _classifier: ClassifierDep, _rate_limit: RateLimitDep
) -> JSONResponse:
    return await _classify(request, state, ("json",), owner_key_id=principal.key_id)


@router.post(
    "/raw",
    response_model=ClassificationPublic,
    summary="Classify raw audio bytes",
    description="Send the audio bytes as the body (`application/octet-stream` or `audio/*`). The result is named "
    "after the `filename` parameter, else a `Content-Disposition` filename, else `upload-` and the start of "
    "its SHA-256. " + _DESCRIPTION,
    responses=RESPONSES,
    openapi_extra={
        **_RAW_BODY,
        "parameters": [
            {
                "name": "filename",
                "in": "query",
                "required": False,
                "description": "Name for the result (a file name).",
                "schema": {"type": "string", "maxLength": 255},
            }
        ],
    },
)
async def classify_raw(
    request: Request, state: StateDep, principal: PrincipalDep, _classifier: ClassifierDep, _rate_limit: RateLimitDep
) -> JSONResponse:
    return await _classify(request, state, ("raw",), owner_key_id=principal.key_id)
