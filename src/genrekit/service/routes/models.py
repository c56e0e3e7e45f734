"""``/models``: the model this server runs, from its card."""

from __future__ import annotations

from fastapi import APIRouter

from genrekit.service.deps import ClassifierDep
from genrekit.service.problems import problem_responses
from genrekit.service.schemas import ModelPublic, ModelsPublic
from genrekit.service.state import model_identity

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=ModelsPublic, summary="The loaded model", responses=problem_responses(503))
def list_models(classifier: ClassifierDep) -> ModelsPublic:
    card = classifier.card
    name, version = model_identity(classifier)
    if card is None:
        model = ModelPublic(
            name=name,
            version=version,
            model_type="unknown",
            labels=list(getattr(classifier, "labels", [])),
            sample_rate=int(classifier.sample_rate),
            window_s=float(getattr(classifier, "window_s", 0.0)),
        )
    else:
        model = ModelPublic(
            name=name,
            version=version,
            model_type=card.model_type,
            labels=list(card.labels),
            sample_rate=int(card.sample_rate),
            window_s=float(card.window_s),
            metrics=dict(card.metrics),
            limitations=list(card.limitations),
            tags=list(card.tags),
        )
    return ModelsPublic(data=[model])
