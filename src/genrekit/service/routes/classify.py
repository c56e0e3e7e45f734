"""``POST /classify``: an upload or a link in, a stored classification out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from genrekit.service.classification import classify_incoming, to_public
from genrekit.service.deps import ClassifierDep, RateLimitDep, StateDep
from genrekit.service.intake import receive_submission
from genrekit.service.problems import problem_responses
from genrekit.service.schemas import ClassificationPublic

router = APIRouter(prefix="/classify", tags=["classify"])

_REQUEST_BODY = {
    "required": True,
    "description": "Either an upload (multipart field `file`, or the raw bytes as `application/octet-stream`) "
    "or a JSON object with an http(s) `url`.",
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary", "description": "The audio file."}},
                "required": ["file"],
            }
        },
        "application/json": {"schema": {"$ref": "#/components/schemas/ClassifyUrlRequest"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    },
}


@router.post(
    "",
    response_model=ClassificationPublic,
    summary="Classify an uploaded file or a link",
    description=(
        "Upload audio (`multipart/form-data` field `file`; any format, recognised from its content, not its "
        'name) or send `{"url": "https://..."}`. Direct audio links are downloaded; pages that yt-dlp '
        "understands (YouTube, SoundCloud, ...) are resolved to their audio. The same bytes submitted again "
        "(same SHA-256, same model version) return the stored result at once with `cached: true`. "
        "Answers 200 in both cases; `Content-Location` is the permalink of the stored result."
    ),
    responses=problem_responses(400, 413, 415, 422, 429, 502, 503, 504),
    openapi_extra={"requestBody": _REQUEST_BODY},
)
async def classify(
    request: Request, state: StateDep, _classifier: ClassifierDep, _rate_limit: RateLimitDep
) -> JSONResponse:
    incoming, name = await receive_submission(request, state.settings)
    try:
        row, cached = await classify_incoming(state, incoming, name=name)
    finally:
        incoming.discard()
    state.metrics.classifications.labels("cached" if cached else "computed").inc()
    body = to_public(row, cached=cached)
    return JSONResponse(
        body.model_dump(mode="json"),
        headers={"Content-Location": str(request.url_for("get_classification", classification_id=row.id).path)},
    )
