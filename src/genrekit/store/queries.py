"""Keyword-only queries on a SQLAlchemy session: classifications, their audio, page cursors.

No HTTP here: a missing row raises :class:`~genrekit.store.errors.NotFound`, a bad cursor
:class:`~genrekit.store.errors.BadCursor`; the service maps both to its problem answers.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import LargeBinary, Select, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from genrekit.store.errors import BadCursor, NotFound
from genrekit.store.ownership import ALL_OWNERS, Owner, owned_by
from genrekit.store.tables import Classification, ClassificationAudio, LibraryTrack
from genrekit.store.vectors import replace_embedding, store_embedding


def create_classification(
    session: Session,
    *,
    classification_id: str,
    created_at: dt.datetime,
    sha256: str,
    filename: str | None,
    result: dict[str, Any],
    visuals: dict[str, Any] | None,
    audio: bytes | None = None,
    audio_media_type: str = "application/octet-stream",
    owner_key_id: str | None = None,
    embedding_space: str | None = None,
) -> Classification:
    """Store one classification (and its audio when given) and commit.

    Parameters
    ----------
    result : dict
        ``Prediction.to_dict()``: name, duration_s, model{name, version}, genres (highest
        first), segments, tags, warnings.
    visuals : dict or None
        The display data of :func:`genrekit.service.work.visuals.compute_visuals`.
    owner_key_id : str or None
        Public id of the API key that submitted it (``None`` in open mode); only that key sees it.
    embedding_space : str or None
        The model's embedding space (``name@version``): where ``result`` holds an
        ``embedding``, it (and ``segment_embeddings``) move from the stored result into
        the vector store (:func:`genrekit.store.vectors.store_embedding`).
    """
    result = dict(result)
    vector = result.pop("embedding", None)
    segment_vectors = result.pop("segment_embeddings", None)
    genres = result.get("genres") or [{"genre": "", "score": 0.0}]
    row = Classification(
        id=classification_id,
        created_at=created_at,
        sha256=sha256,
        filename=filename,
        duration_s=float(result["duration_s"]),
        model_name=str(result["model"]["name"]),
        model_version=str(result["model"]["version"]),
        top_genre=str(genres[0]["genre"]),
        top_score=float(genres[0]["score"]),
        result=result,
        visuals=visuals,
        owner_key_id=owner_key_id,
    )
    session.add(row)
    if vector and embedding_space:
        session.flush()
        store_embedding(
            session, classification_id=classification_id, space=embedding_space, vector=vector, segment_vectors=segment_vectors
        )
    if audio is not None:
        session.add(
            ClassificationAudio(classification_id=classification_id, media_type=audio_media_type, content=audio)
        )
    session.commit()
    return row


def get_classification(
    session: Session, *, classification_id: str, owner_key_id: Owner = ALL_OWNERS
) -> Classification | None:
    """The classification with this id (of this owner, when given), or None."""
    row = session.get(Classification, classification_id)
    if row is None or owner_key_id is ALL_OWNERS or row.owner_key_id == owner_key_id:
        return row
    return None


def get_owned_classification(session: Session, *, classification_id: str, owner_key_id: str | None) -> Classification:
    """The classification with this id of this owner; :class:`~genrekit.store.errors.NotFound` otherwise,
    so another key's ids look exactly like ids that do not exist."""
    row = get_classification(session, classification_id=classification_id, owner_key_id=owner_key_id)
    if row is None:
        raise NotFound(f"no classification {classification_id!r}")
    return row


def delete_classification(session: Session, *, classification_id: str) -> bool:
    """Delete a classification and its stored audio, and commit; False when there was none."""
    row = session.get(Classification, classification_id)
    if row is None:
        return False
    session.execute(delete(ClassificationAudio).where(ClassificationAudio.classification_id == classification_id))
    session.delete(row)
    session.commit()
    return True


def replace_result(
    session: Session,
    *,
    classification_id: str,
    result: dict[str, Any],
    embedding: list[float] | None = None,
    segment_embeddings: list[list[float]] | None = None,
    embedding_space: str | None = None,
) -> bool:
    """Store a new ``result`` of the same input (a longer timeline, the whole song's answer)
    and commit; False when the row is gone.

    The row's top genre, top score and duration follow the result, and so do the library
    tracks pointing at it (``genrekit scan``). ``embedding`` (with ``segment_embeddings``)
    replaces the stored vector where ``embedding_space`` is given.
    """
    row = session.get(Classification, classification_id)
    if row is None:
        return False
    genres = result.get("genres") or [{"genre": row.top_genre, "score": row.top_score}]
    row.result = result
    row.top_genre = str(genres[0]["genre"])
    row.top_score = float(genres[0]["score"])
    row.duration_s = float(result.get("duration_s", row.duration_s))
    session.execute(
        update(LibraryTrack)
        .where(LibraryTrack.classification_id == classification_id)
        .values(top_genre=row.top_genre, top_score=row.top_score, duration_s=row.duration_s)
    )
    if embedding and embedding_space:
        replace_embedding(
            session,
            classification_id=classification_id,
            space=embedding_space,
            vector=embedding,
            segment_vectors=segment_embeddings,
        )
    session.commit()
    return True


def set_visuals(session: Session, *, classification_id: str, visuals: dict[str, Any]) -> bool:
    """Store the display data computed after the answer, and commit; False when the row is gone."""
    row = session.get(Classification, classification_id)
    if row is None:
        return False
    row.visuals = visuals
    session.commit()
    return True


def rename_classification(session: Session, *, classification_id: str, filename: str) -> Classification | None:
    """Give a stored classification the name of its latest upload (file name and result name), and commit."""
    row = session.get(Classification, classification_id)
    if row is None:
        return None
    row.filename = filename
    row.result = {**row.result, "name": filename}
    session.commit()
    return row


def has_audio(session: Session, *, classification_id: str) -> bool:
    """Whether the classification's audio is stored."""
    statement = select(ClassificationAudio.classification_id).where(
        ClassificationAudio.classification_id == classification_id
    )
    return session.execute(statement).first() is not None


def prune_audio(session: Session, *, older_than: dt.datetime, max_total_bytes: int) -> int:
    """Drop stored audio (the results stay) older than ``older_than``, then the oldest past ``max_total_bytes``.

    Returns
    -------
    int
        Number of audio files dropped.
    """
    statement = (
        select(ClassificationAudio.classification_id, func.length(ClassificationAudio.content), Classification.created_at)
        .join(Classification, Classification.id == ClassificationAudio.classification_id)
        .order_by(Classification.created_at.desc(), Classification.id.desc())
    )
    doomed: list[str] = []
    total = 0
    for classification_id, n_bytes, created_at in session.execute(statement):
        total += int(n_bytes)
        if created_at < older_than or total > max_total_bytes:
            doomed.append(classification_id)
    if doomed:
        session.execute(delete(ClassificationAudio).where(ClassificationAudio.classification_id.in_(doomed)))
        session.commit()
    return len(doomed)


def find_by_content(
    session: Session, *, sha256: str, model_name: str, model_version: str, owner_key_id: Owner = ALL_OWNERS
) -> Classification | None:
    """The newest classification of the same bytes by the same model version (of this owner, when given), or None."""
    statement = (
        select(Classification)
        .where(
            Classification.sha256 == sha256,
            Classification.model_name == model_name,
            Classification.model_version == model_version,
        )
        .order_by(Classification.created_at.desc(), Classification.id.desc())
        .limit(1)
    )
    return session.scalars(owned_by(statement, owner_key_id)).first()


def get_audio(session: Session, *, classification_id: str) -> ClassificationAudio | None:
    """The stored audio of a classification, or None."""
    return session.get(ClassificationAudio, classification_id)


@dataclass(frozen=True)
class AudioMeta:
    """What describes stored audio without its bytes."""

    media_type: str
    n_bytes: int
    sha256: str


def get_audio_meta(session: Session, *, classification_id: str) -> AudioMeta | None:
    """Media type, size (bytes) and SHA-256 of a classification's stored audio, or None."""
    statement = (
        select(ClassificationAudio.media_type, func.length(ClassificationAudio.content), Classification.sha256)
        .join(Classification, Classification.id == ClassificationAudio.classification_id)
        .where(ClassificationAudio.classification_id == classification_id)
    )
    row = session.execute(statement).first()
    if row is None:
        return None
    media_type, n_bytes, sha256 = row
    return AudioMeta(media_type=media_type, n_bytes=int(n_bytes), sha256=sha256)


def read_audio_bytes(session: Session, *, classification_id: str, start: int, n_bytes: int) -> bytes:
    """``n_bytes`` of a classification's stored audio from byte ``start`` (0-based), read in the database.

    Fewer bytes come back past the end of the audio; none when there is no stored audio.
    """
    statement = select(
        func.substr(ClassificationAudio.content, start + 1, n_bytes, type_=LargeBinary)
    ).where(ClassificationAudio.classification_id == classification_id)
    content = session.execute(statement).scalar()
    return bytes(content) if content is not None else b""


def encode_cursor(row: Classification) -> str:
    """Opaque cursor pointing just after ``row`` in newest-first order."""
    payload = json.dumps([row.created_at.isoformat(), row.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    """Inverse of :func:`encode_cursor`; raises :class:`~genrekit.store.errors.BadCursor` for a bad cursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_iso, row_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        created_at = dt.datetime.fromisoformat(created_iso)
        if not isinstance(row_id, str) or created_at.tzinfo is None:
            raise ValueError("malformed cursor payload")
    except (ValueError, TypeError, UnicodeError, binascii.Error) as error:
        raise BadCursor("invalid cursor; pass the next_cursor of a previous page") from error
    return created_at, row_id


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards (``%``, ``_``) and the escape character (``\\``) escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def newest_first_after(statement: Select[Any], cursor: str | None) -> Select[Any]:
    """``statement`` over classifications in newest-first order, starting just after ``cursor``
    (a ``next_cursor``; raises :class:`~genrekit.store.errors.BadCursor` for a bad one)."""
    if cursor:
        created_at, row_id = decode_cursor(cursor)
        statement = statement.where(
            or_(
                Classification.created_at < created_at,
                and_(Classification.created_at == created_at, Classification.id < row_id),
            )
        )
    return statement.order_by(Classification.created_at.desc(), Classification.id.desc())


def newest_first_page(session: Session, statement: Select[Any], limit: int) -> tuple[list[Classification], str | None]:
    """The first ``limit`` rows of a :func:`newest_first_after` statement, and the cursor of the
    next page (None on the last page)."""
    rows = list(session.scalars(statement.limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


SCAN_LIMIT = 2000  # rows examined per page when a tag filter runs in Python


def list_classifications(
    session: Session,
    *,
    genre: str | None = None,
    tag: str | None = None,
    min_score: float = 0.0,
    name_contains: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
    owner_key_id: Owner = ALL_OWNERS,
) -> tuple[list[Classification], str | None]:
    """One page of the classifications matching every filter given, newest first (the
    history listing and the catalog search).

    Parameters
    ----------
    genre : str or None
        Top genre equals this label (and its score is at least ``min_score``).
    tag : str or None
        One of the stored top tags equals this (case-insensitive), with a score of at least
        ``min_score``.
    min_score : float in [0, 1]
        Threshold of the genre and tag scores; without either, of the top genre's score.
    name_contains : str or None
        Case-insensitive substring of the file name (or URL); ``%`` and ``_`` are literal.
    limit : int
        Page size.
    cursor : str or None
        ``next_cursor`` of the previous page.
    owner_key_id : str, None or ALL_OWNERS
        Only this API key's classifications (``None``: the open mode's).

    Returns
    -------
    rows : list of Classification
    next_cursor : str or None
        None on the last page. With ``tag``, a page may hold fewer than ``limit`` rows (at
        most :data:`SCAN_LIMIT` rows are examined per page) and still have a next page.
    """
    statement = owned_by(select(Classification), owner_key_id)
    if genre:
        statement = statement.where(Classification.top_genre == genre)
    if min_score > 0 and not tag:
        statement = statement.where(Classification.top_score >= min_score)
    if name_contains:
        statement = statement.where(Classification.filename.ilike(f"%{escape_like(name_contains)}%", escape="\\"))
    statement = newest_first_after(statement, cursor)
    if not tag:
        return newest_first_page(session, statement, limit)
    kept: list[Classification] = []
    examined = list(session.scalars(statement.limit(SCAN_LIMIT + 1)))
    last: Classification | None = None
    for row in examined[:SCAN_LIMIT]:
        last = row
        if genre and min_score > 0 and row.top_score < min_score:
            continue
        if _has_tag(row.result, tag, min_score):
            kept.append(row)
            if len(kept) == limit:
                break
    more = last is not None and (last is not examined[-1] or len(examined) > SCAN_LIMIT)
    return kept, encode_cursor(last) if more and last is not None else None


def _has_tag(result: dict[str, Any], tag: str, min_score: float) -> bool:
    """Whether one of the stored top tags of ``result`` is ``tag`` (any case) with a score of at least ``min_score``."""
    wanted = tag.lower()
    return any(str(t.get("tag", "")).lower() == wanted and float(t.get("score", 0.0)) >= min_score for t in result.get("tags") or [])


def set_share_hash(session: Session, *, row: Classification, share_hash: str | None) -> None:
    """Set (or clear, with ``None``) the SHA-256 of a classification's share token, and commit."""
    row.share_hash = share_hash
    session.commit()


def get_shared(session: Session, *, share_hash: str) -> Classification | None:
    """The classification shared under this token hash, or None."""
    return session.scalars(select(Classification).where(Classification.share_hash == share_hash)).first()
