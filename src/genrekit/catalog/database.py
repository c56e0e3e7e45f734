"""Scanned libraries in the service's database (``library_tracks`` + ``classifications``).

Each file is one :class:`~genrekit.store.tables.LibraryTrack` row, keyed by its path.
A classified file points at a :class:`~genrekit.store.tables.Classification` row (the
same table the REST service writes), shared by every file with the same content (SHA-256)
and model version, so the service's history and permalinks show scanned tracks and an
upload of the same bytes is answered from the cache. Scanned results have no API-key owner
(they are local, like uploads without keys). Every outcome is committed as soon as
it is known: a run killed at any moment (``kill -9`` included) loses at most the song in
progress.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from genrekit.settings import database_url
from genrekit.store import queries
from genrekit.store.db import create_db_engine, make_session_factory, run_migrations
from genrekit.store.tables import Classification, LibraryTrack
from genrekit.store.vectors import store_embedding

STATUS_OK = "ok"
STATUS_ERROR = "error"
MAX_ERROR_CHARS = 2000  # characters of an error message stored


def default_database_url() -> str:
    """The service's database URL (``GENREKIT_DATABASE_URL``, else its default SQLite file)."""
    return database_url()


def open_database(url: str | None) -> tuple[Engine, sessionmaker[Session]]:
    """Connect to ``url`` (``None``: :func:`default_database_url`) and upgrade its schema."""
    engine = create_db_engine(url or default_database_url())
    run_migrations(engine)
    return engine, make_session_factory(engine)


@dataclass(frozen=True)
class ModelIdentity:
    """Name and version of the model a result came from; a change makes stored tracks stale."""

    name: str
    version: str


def embedding_space_of(bundle: str | os.PathLike[str] | None) -> str | None:
    """The embedding space (``name@version``) a bundle's card declares, or None; reads no weights."""
    from genrekit.bundle.embedding import embedding_spec
    from genrekit.bundle.io import read_card

    spec = embedding_spec(read_card(bundle).config)
    return spec.space if spec is not None else None


def model_identity_of(bundle: str | os.PathLike[str] | None) -> ModelIdentity:
    """Name and version from a bundle's card, read without loading the model."""
    from genrekit.bundle.io import read_card

    card = read_card(bundle)
    return ModelIdentity(name=card.name, version=card.version)


@dataclass(frozen=True)
class StoredTrack:
    """What a rerun needs to know of a stored file."""

    size_bytes: int
    mtime_ns: int
    sha256: str | None
    model: ModelIdentity
    status: str


def stored_tracks(session: Session, *, library: str) -> dict[str, StoredTrack]:
    """Every stored file of ``library`` (its absolute root), by path."""
    statement = select(
        LibraryTrack.path, LibraryTrack.size_bytes, LibraryTrack.mtime_ns, LibraryTrack.sha256,
        LibraryTrack.model_name, LibraryTrack.model_version, LibraryTrack.status,
    ).where(LibraryTrack.library == library)
    return {
        path: StoredTrack(size, mtime, sha, ModelIdentity(name, version), status)
        for path, size, mtime, sha, name, version, status in session.execute(statement)
    }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def record_result(
    session: Session,
    *,
    path: str,
    library: str,
    size_bytes: int,
    mtime_ns: int,
    sha256: str,
    result: dict[str, Any],
    embedding_space: str | None = None,
) -> LibraryTrack:
    """Store a classified file (reusing the classification of identical content) and commit.

    The result's ``embedding`` and ``segment_embeddings`` go to the vector store (under
    ``embedding_space``, the model's ``name@version`` embedding), not into the stored result.
    """
    result = dict(result)
    vector = result.pop("embedding", None)
    segment_vectors = result.pop("segment_embeddings", None)
    model = result["model"]
    existing = queries.find_by_content(
        session, sha256=sha256, model_name=str(model["name"]), model_version=str(model["version"]), owner_key_id=None
    )
    if existing is None:
        existing = Classification(
            id=uuid.uuid4().hex,
            created_at=_now(),
            sha256=sha256,
            filename=os.path.basename(path),
            duration_s=float(result["duration_s"]),
            model_name=str(model["name"]),
            model_version=str(model["version"]),
            top_genre=str(result["genres"][0]["genre"]),
            top_score=float(result["genres"][0]["score"]),
            result=result,
            visuals=None,
        )
        session.add(existing)
        session.flush()
        if vector and embedding_space:
            store_embedding(
                session, classification_id=existing.id, space=embedding_space, vector=vector, segment_vectors=segment_vectors
            )
    return link_classification(
        session, path=path, library=library, size_bytes=size_bytes, mtime_ns=mtime_ns, classification=existing
    )


def _save_track(
    session: Session,
    *,
    path: str,
    library: str,
    size_bytes: int,
    mtime_ns: int,
    classification: Classification | None,
    sha256: str | None = None,
    model: ModelIdentity | None = None,
    error: str | None = None,
) -> LibraryTrack:
    """Insert or update a file's row: classified (``classification``) or failed (``error``); commits."""
    ok = classification is not None
    values = {
        "library": library,
        "size_bytes": size_bytes,
        "mtime_ns": mtime_ns,
        "sha256": classification.sha256 if ok else sha256,
        "duration_s": classification.duration_s if ok else None,
        "model_name": classification.model_name if ok else model.name,
        "model_version": classification.model_version if ok else model.version,
        "status": STATUS_OK if ok else STATUS_ERROR,
        "error": None if ok else (error or "")[:MAX_ERROR_CHARS],
        "top_genre": classification.top_genre if ok else None,
        "top_score": classification.top_score if ok else None,
        "classification_id": classification.id if ok else None,
        "scanned_at": _now(),
    }
    row = session.scalars(select(LibraryTrack).where(LibraryTrack.path == path)).first()
    if row is None:
        row = LibraryTrack(path=path, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.commit()
    return row


def link_classification(
    session: Session, *, path: str, library: str, size_bytes: int, mtime_ns: int, classification: Classification
) -> LibraryTrack:
    """Point a file at an existing classification (same content, same model) and commit."""
    return _save_track(session, path=path, library=library, size_bytes=size_bytes, mtime_ns=mtime_ns,
                       classification=classification)


def record_failure(
    session: Session,
    *,
    path: str,
    library: str,
    size_bytes: int,
    mtime_ns: int,
    sha256: str | None,
    model: ModelIdentity,
    error: str,
) -> LibraryTrack:
    """Store a file that could not be classified, with its error, and commit."""
    return _save_track(session, path=path, library=library, size_bytes=size_bytes, mtime_ns=mtime_ns,
                       classification=None, sha256=sha256, model=model, error=error)


def find_classification(session: Session, *, sha256: str, model: ModelIdentity) -> Classification | None:
    """A stored classification of this content by this model, or None.

    Content is matched by the hash the classification was made from, or by a file's
    current hash (a file genrekit tagged keeps its result under its new hash). Only local
    results (no API-key owner) are reused: a scan never links to a key's private result.
    """
    found = queries.find_by_content(session, sha256=sha256, model_name=model.name, model_version=model.version,
                                 owner_key_id=None)
    if found is not None:
        return found
    statement = (
        select(Classification)
        .join(LibraryTrack, LibraryTrack.classification_id == Classification.id)
        .where(LibraryTrack.sha256 == sha256, LibraryTrack.model_name == model.name,
               LibraryTrack.model_version == model.version, LibraryTrack.status == STATUS_OK,
               Classification.owner_key_id.is_(None))
        .limit(1)
    )
    return session.scalars(statement).first()


def touch_track(session: Session, *, path: str, size_bytes: int, mtime_ns: int) -> None:
    """Record a file's new size and mtime (its content did not change) and commit."""
    row = session.scalars(select(LibraryTrack).where(LibraryTrack.path == path)).first()
    if row is not None:
        row.size_bytes, row.mtime_ns = size_bytes, mtime_ns
        session.commit()


def retag_track(session: Session, *, path: str, size_bytes: int, mtime_ns: int, sha256: str) -> None:
    """A file whose metadata (not its audio) changed: new size, mtime and hash, same result; commits."""
    row = session.scalars(select(LibraryTrack).where(LibraryTrack.path == path)).first()
    if row is not None:
        row.size_bytes, row.mtime_ns, row.sha256 = size_bytes, mtime_ns, sha256
        session.commit()


@dataclass(frozen=True)
class TrackRecord:
    """One stored file with its result, as exported (see :func:`iter_track_records`)."""

    path: str
    library: str
    size_bytes: int
    mtime_ns: int
    sha256: str | None
    duration_s: float | None
    model_name: str
    model_version: str
    status: str
    error: str | None
    top_genre: str | None
    top_score: float | None
    classification_id: str | None
    result: dict[str, Any] | None


def iter_track_records(
    session: Session,
    *,
    library: str | None = None,
    genre: str | None = None,
    min_score: float | None = None,
    include_failed: bool = True,
) -> Iterator[TrackRecord]:
    """Stored files (with their results), in path order.

    Parameters
    ----------
    library : str or None
        Only this library (absolute root path).
    genre : str or None
        Only files whose top genre is this label (failed files never match).
    min_score : float or None
        Only files whose top score is at least this (0..1).
    include_failed : bool
        Include files that failed (ignored when ``genre`` or ``min_score`` is given).
    """
    statement = select(LibraryTrack, Classification.result).outerjoin(
        Classification, Classification.id == LibraryTrack.classification_id
    )
    if library is not None:
        statement = statement.where(LibraryTrack.library == library)
    if genre is not None:
        statement = statement.where(LibraryTrack.top_genre == genre)
    if min_score is not None:
        statement = statement.where(LibraryTrack.top_score >= min_score)
    if not include_failed or genre is not None or min_score is not None:
        statement = statement.where(LibraryTrack.status == STATUS_OK)
    statement = statement.order_by(LibraryTrack.path)
    for track, result in session.execute(statement):
        yield TrackRecord(
            path=track.path,
            library=track.library,
            size_bytes=track.size_bytes,
            mtime_ns=track.mtime_ns,
            sha256=track.sha256,
            duration_s=track.duration_s,
            model_name=track.model_name,
            model_version=track.model_version,
            status=track.status,
            error=track.error,
            top_genre=track.top_genre,
            top_score=track.top_score,
            classification_id=track.classification_id,
            result=result,
        )
