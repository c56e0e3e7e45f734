"""``/classifications/{id}/explanation``: why the model chose the genre, computed on demand."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from genrekit.service.answers.explanations import cache_of, explain_stored
from genrekit.service.deps import PrincipalDep, StateDep
from genrekit.service.problems import problem_responses

router = APIRouter(prefix="/classifications", tags=["explanations"])


class WindowExplanation(BaseModel):
    """One explained window."""

    index: int
    start_s: float = Field(description="Start of the window (seconds).")
    end_s: float = Field(description="End of the window (seconds).")
    probabilities: dict[str, float] = Field(description="The window's genre probabilities.")
    top: str = Field(description="The window's own top genre.")
    share: float = Field(description="Share of the song's evidence for the genre (sums to 1 over windows).")
    decisive: bool = Field(description="Its top genre is the song's and its share is at least half an even share.")


class ExplanationPublic(BaseModel):
    """Why the model chose the song's genre."""

    classification_id: str
    name: str
    duration_s: float = Field(description="Length of the explained audio (seconds).")
    model: dict[str, str]
    labels: list[str]
    aggregation: str
    predicted: str
    probabilities: dict[str, float]
    windows: list[WindowExplanation]
    saliency: dict[str, Any] | None = Field(
        description="Occlusion and integrated-gradients maps per window (bins from the lowest band up, pooled), "
        "for spectrogram models."
    )
    feature_contributions: list[dict[str, Any]] | None = Field(description="Table models: Shapley contributions.")
    faithfulness: dict[str, Any] = Field(
        description="`deletion_drop` (masking the most salient 10%) and `random_drop` (a random 10%): drops of the "
        "predicted genre's probability; `passed` when the first is larger."
    )
    faithfulness_by_method: dict[str, dict[str, Any]]
    seconds: float = Field(description="Seconds the explanation took to compute.")
    cached: bool = Field(description="Served from the server's explanation cache.")


@router.get(
    "/{classification_id}/explanation",
    response_model=ExplanationPublic,
    summary="Why the model chose this genre: window shares, saliency, faithfulness (computed on demand)",
    description=(
        "Computed from the stored audio on first request (seconds of CPU), then cached. Needs a server that keeps "
        "audio (see `GET /config`): otherwise 409 with a problem document. 501 where PyTorch is not installed."
    ),
    responses=problem_responses(404, 409, 422, 501),
)
async def get_explanation(
    classification_id: str, request: Request, state: StateDep, principal: PrincipalDep
) -> ExplanationPublic:
    data = await run_in_threadpool(
        explain_stored, state, cache_of(request.app.state), classification_id, owner_key_id=principal.key_id
    )
    return ExplanationPublic.model_validate(data)
