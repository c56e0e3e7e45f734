"""``POST /classifications/{id}/feedback``: an editor marks a result wrong and gives the right genre;
``DELETE`` takes the correction back (undo)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from genrekit.service.deps import EditorDep, SessionDep, SettingsDep
from genrekit.service.errors import InvalidFeedbackError, NotFoundError
from genrekit.service.problems import problem_responses
from genrekit.service.schemas import CorrectionPublic, FeedbackCreate, ModelInfoPublic
from genrekit.store import queries
from genrekit.store.corrections import record_correction, withdraw_correction

router = APIRouter(prefix="/classifications", tags=["feedback"])


@router.post(
    "/{classification_id}/feedback",
    response_model=CorrectionPublic,
    status_code=201,
    summary="Correct a classification: the right genre (editor role)",
    description="Stores the right genre with the result's embedding (and a copy of its audio when the server "
    "is configured to keep it for retraining). Correcting again replaces the earlier correction. "
    "`genrekit retrain` learns from these.",
    responses=problem_responses(400, 401, 403, 404, 422),
)
def give_feedback(
    classification_id: str, body: FeedbackCreate, session: SessionDep, settings: SettingsDep, editor: EditorDep
) -> CorrectionPublic:
    row = queries.get_owned_classification(session, classification_id=classification_id, owner_key_id=editor.key_id)
    labels = [str(g["genre"]) for g in row.result.get("genres", [])]
    if body.genre not in labels:
        raise InvalidFeedbackError(f"{body.genre!r} is not a genre of model {row.model_name}; choose one of {', '.join(labels)}")
    correction = record_correction(
        session, row=row, genre=body.genre, key_id=editor.key_id, keep_audio=settings.feedback_keep_audio
    )
    return CorrectionPublic(
        id=correction.id,
        classification_id=row.id,
        genre=correction.genre,
        predicted_genre=correction.predicted_genre,
        model=ModelInfoPublic(name=correction.model_name, version=correction.model_version),
        has_embedding=correction.embedding is not None,
        audio_kept=correction.audio is not None,
        status=correction.status,
        created_at=correction.created_at,
    )


@router.delete(
    "/{classification_id}/feedback",
    status_code=204,
    summary="Take back the correction of a classification (editor role)",
    description="Undo: deletes the stored correction, so retraining no longer learns from it.",
    responses=problem_responses(401, 403, 404),
)
def withdraw_feedback(classification_id: str, session: SessionDep, editor: EditorDep) -> Response:
    row = queries.get_owned_classification(session, classification_id=classification_id, owner_key_id=editor.key_id)
    if not withdraw_correction(session, classification_id=row.id):
        raise NotFoundError(f"classification {classification_id!r} has no correction to take back")
    return Response(status_code=204)
