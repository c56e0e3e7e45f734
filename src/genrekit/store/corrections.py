"""Corrections: store an editor's right genre for a classification, and read them back for retraining.

Keyword-only helpers on a SQLAlchemy session (no HTTP here), like :mod:`genrekit.store.queries`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from genrekit.store.tables import Classification, ClassificationAudio, Correction
from genrekit.store.vectors import from_blob, get_embedding

ACCEPTED = "accepted"  # status of a correction retraining uses


def record_correction(
    session: Session, *, row: Classification, genre: str, key_id: str | None, keep_audio: bool
) -> Correction:
    """Store (or replace) the correction of ``row`` and commit.

    Parameters
    ----------
    row : Classification
        The corrected classification (its result gives the predicted genre and model; the
        vector store its track embedding, when the model has one).
    genre : str
        The right genre, one of the model's labels.
    key_id : str or None
        The editor's API key id (``None`` in open mode).
    keep_audio : bool
        Copy the input's stored audio into the correction (when the server kept it).
    """
    audio = session.get(ClassificationAudio, row.id) if keep_audio else None
    stored = get_embedding(session, classification_id=row.id)
    embedding = [float(v) for v in from_blob(stored.vector)] if stored is not None else None
    correction = session.scalars(select(Correction).where(Correction.classification_id == row.id)).first()
    if correction is None:
        correction = Correction(id=uuid.uuid4().hex, classification_id=row.id)
        session.add(correction)
    correction.key_id = key_id
    correction.genre = genre
    correction.predicted_genre = row.top_genre
    correction.model_name = row.model_name
    correction.model_version = row.model_version
    correction.sha256 = row.sha256
    correction.embedding = embedding
    correction.audio = bytes(audio.content) if audio is not None else None
    correction.media_type = audio.media_type if audio is not None else None
    correction.status = ACCEPTED
    correction.created_at = dt.datetime.now(dt.timezone.utc)
    session.commit()
    return correction


def withdraw_correction(session: Session, *, classification_id: str) -> bool:
    """Delete the correction of a classification (undo) and commit; ``False`` when it had none."""
    correction = session.scalars(select(Correction).where(Correction.classification_id == classification_id)).first()
    if correction is None:
        return False
    session.delete(correction)
    session.commit()
    return True


@dataclass(frozen=True)
class TrainingCorrection:
    """What retraining takes from one accepted correction."""

    id: str
    genre: str
    sha256: str
    audio: bytes | None
    media_type: str | None
    embedding: list[float] | None


def accepted_corrections(session: Session, *, labels: list[str] | None = None) -> list[TrainingCorrection]:
    """Every accepted correction (oldest first), optionally only those whose genre is in ``labels``."""
    statement = select(Correction).where(Correction.status == ACCEPTED).order_by(Correction.created_at, Correction.id)
    rows = session.scalars(statement)
    return [
        TrainingCorrection(c.id, c.genre, c.sha256, c.audio, c.media_type, c.embedding)
        for c in rows
        if labels is None or c.genre in labels
    ]
