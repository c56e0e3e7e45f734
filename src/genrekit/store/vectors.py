"""Similarity search over stored track embeddings, inside the service's own database.

* SQLite: the sqlite-vec extension (loaded on every connection by
  :func:`genrekit.store.db.create_db_engine`) computes ``vec_distance_cosine`` over the
  ``track_embeddings`` blobs in SQL: an exact scan of one embedding space, filtered by
  genre in the same query.
* PostgreSQL with the pgvector extension: :func:`prepare_vector_search` creates the
  extension and a ``track_vectors_pgv`` table (a ``vector``-typed copy of each track vector,
  rebuilt from ``track_embeddings`` if it is missing rows), searched with pgvector's ``<=>``
  (cosine distance).
* Anywhere else (a PostgreSQL without pgvector, a SQLite build that cannot load
  extensions): an exact search in NumPy over the space's vectors, read from the database.

Every search is exact (the benchmark in ``benchmarks/bench_similar.py`` and
``docs/results.md`` says why: at the catalog sizes tested the database's scan is fast
enough). Scores are cosine similarities in [-1, 1] (vectors are unit length).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Column, ColumnElement, ForeignKey, MetaData, String, Table, func, literal, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from genrekit.store.ownership import Owner, owned_by
from genrekit.store.tables import Classification, TrackEmbedding

logger = logging.getLogger(__name__)

PGV_TABLE = "track_vectors_pgv"


def to_blob(vector: Sequence[float] | np.ndarray) -> bytes:
    """A vector as little-endian float32 bytes (the sqlite-vec blob format)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes, dim: int | None = None) -> np.ndarray:
    """Inverse of :func:`to_blob`; ``dim`` reshapes several concatenated vectors to rows."""
    array = np.frombuffer(blob, dtype="<f4").astype(np.float32)
    return array.reshape(-1, dim) if dim else array


def _pgvector_table(metadata: MetaData) -> Table:
    from pgvector.sqlalchemy import Vector

    return Table(
        PGV_TABLE,
        metadata,
        Column(
            "classification_id", String(32), ForeignKey(Classification.__table__.c.id, ondelete="CASCADE"), primary_key=True
        ),
        Column("space", String(300), nullable=False, index=True),
        Column("embedding", Vector(), nullable=False),
    )


_PGV_METADATA = MetaData()
_PGV_READY: dict[str, bool] = {}  # engine URL -> pgvector search ready


def _engine_key(bind: Engine | Connection) -> str:
    engine = bind.engine if isinstance(bind, Connection) else bind
    return engine.url.render_as_string(hide_password=True)


def prepare_vector_search(engine: Engine) -> str:
    """Make the database ready for :func:`search_similar`; returns the method in use.

    On PostgreSQL, creates the pgvector extension and :data:`PGV_TABLE` when the server
    offers pgvector, and copies into it the vectors it lacks. Returns ``"sqlite-vec"``,
    ``"pgvector"`` or ``"numpy"`` (the exact fallback).
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            return "sqlite-vec" if _has_sqlite_vec(connection) else "numpy"
    if engine.dialect.name != "postgresql":
        return "numpy"
    key = _engine_key(engine)
    try:
        import pgvector.sqlalchemy  # noqa: F401 - the client side of pgvector
    except ImportError:
        _PGV_READY[key] = False
        return "numpy"
    try:
        with engine.begin() as connection:
            available = connection.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first()
            if available is None:
                _PGV_READY[key] = False
                logger.warning("PostgreSQL has no pgvector extension: similarity search runs in NumPy")
                return "numpy"
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            table = _PGV_METADATA.tables[PGV_TABLE] if PGV_TABLE in _PGV_METADATA.tables else _pgvector_table(_PGV_METADATA)
            table.create(connection, checkfirst=True)
        _backfill_pgvector(engine)
    except Exception as error:  # noqa: BLE001 - any server refusal means: use the fallback
        _PGV_READY[key] = False
        logger.warning("pgvector is not usable (%s): similarity search runs in NumPy", error)
        return "numpy"
    _PGV_READY[key] = True
    return "pgvector"


def _backfill_pgvector(engine: Engine) -> None:
    """Copy into :data:`PGV_TABLE` the stored vectors it does not hold yet."""
    table = _PGV_METADATA.tables[PGV_TABLE]
    with engine.begin() as connection:
        missing = connection.execute(
            select(TrackEmbedding.classification_id, TrackEmbedding.space, TrackEmbedding.vector)
            .outerjoin(table, table.c.classification_id == TrackEmbedding.classification_id)
            .where(table.c.classification_id.is_(None))
        ).all()
        if missing:
            connection.execute(
                table.insert(),
                [{"classification_id": i, "space": s, "embedding": from_blob(v)} for i, s, v in missing],
            )


def _pgvector_ready(session: Session) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "postgresql" and _PGV_READY.get(_engine_key(bind), False)


def _has_sqlite_vec(connection: Connection) -> bool:
    try:
        connection.execute(text("SELECT vec_version()"))
    except Exception:  # noqa: BLE001 - "no such function": the extension is not loaded
        return False
    return True


def store_embedding(
    session: Session,
    *,
    classification_id: str,
    space: str,
    vector: Sequence[float],
    segment_vectors: Sequence[Sequence[float]] | None = None,
) -> TrackEmbedding:
    """Add a classification's embedding to the session (the caller commits).

    Raises
    ------
    ValueError
        The vector is empty, not finite, or the segment vectors do not share its width.
    """
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or array.size == 0 or not np.isfinite(array).all():
        raise ValueError("an embedding must be a non-empty finite vector")
    segments = None
    if segment_vectors:
        rows = np.asarray(segment_vectors, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != array.size:
            raise ValueError(f"segment vectors must have shape (n, {array.size}), got {rows.shape}")
        segments = to_blob(rows)
    row = TrackEmbedding(
        classification_id=classification_id, space=space, dim=int(array.size), vector=to_blob(array), segment_vectors=segments
    )
    session.add(row)
    if _pgvector_ready(session):
        session.flush()
        session.execute(
            _PGV_METADATA.tables[PGV_TABLE].insert().values(classification_id=classification_id, space=space, embedding=array)
        )
    return row


def replace_embedding(
    session: Session,
    *,
    classification_id: str,
    space: str,
    vector: Sequence[float],
    segment_vectors: Sequence[Sequence[float]] | None = None,
) -> TrackEmbedding:
    """Store a classification's embedding in place of the one it had, if any (the caller
    commits); raises ``ValueError`` as :func:`store_embedding` does."""
    old = session.get(TrackEmbedding, classification_id)
    if old is not None:
        session.delete(old)
        session.flush()
    if _pgvector_ready(session):
        table = _PGV_METADATA.tables[PGV_TABLE]
        session.execute(table.delete().where(table.c.classification_id == classification_id))
    return store_embedding(
        session, classification_id=classification_id, space=space, vector=vector, segment_vectors=segment_vectors
    )


def get_embedding(session: Session, *, classification_id: str) -> TrackEmbedding | None:
    """The stored embedding of a classification, or None."""
    return session.get(TrackEmbedding, classification_id)


@dataclass(frozen=True)
class Neighbour:
    """One search hit: a classification id and its cosine similarity to the query."""

    classification_id: str
    score: float


def search_similar(
    session: Session,
    *,
    space: str,
    query: Sequence[float] | np.ndarray,
    k: int = 10,
    genre: str | None = None,
    exclude_id: str | None = None,
    exclude_sha256: str | None = None,
    owner_key_id: Owner = None,
) -> list[Neighbour]:
    """The ``k`` stored tracks of ``space`` nearest to ``query`` (cosine), best first.

    Parameters
    ----------
    space : str
        Embedding space (``name@version``); other spaces are never compared.
    query : vector
        Unit vector of that space.
    k : int
        Number of neighbours (1..1000).
    genre : str or None
        Keep only tracks whose top genre is this label.
    exclude_id, exclude_sha256 : str or None
        Leave out the query's own classification and other classifications of the same bytes.
    owner_key_id : str, None or :data:`genrekit.store.ownership.ALL_OWNERS`
        Search only this API key's classifications (``None``: the open mode's).
    """
    q = np.asarray(query, dtype=np.float32)
    bind = session.get_bind()

    def where(id_column: Column[str], space_column: Column[str]) -> list[ColumnElement[bool]]:
        clauses = [space_column == space]
        if genre:
            clauses.append(Classification.top_genre == genre)
        if exclude_id:
            clauses.append(id_column != exclude_id)
        if exclude_sha256:
            clauses.append(Classification.sha256 != exclude_sha256)
        return clauses

    if bind.dialect.name == "sqlite" and _has_sqlite_vec(session.connection()):
        distance = func.vec_distance_cosine(TrackEmbedding.vector, literal(to_blob(q)))
        id_column, space_column = TrackEmbedding.classification_id, TrackEmbedding.space
    elif _pgvector_ready(session):
        table = _PGV_METADATA.tables[PGV_TABLE]
        distance = table.c.embedding.cosine_distance(q)
        id_column, space_column = table.c.classification_id, table.c.space
    else:
        return _search_numpy(
            session, q, k, owned_by(select(TrackEmbedding.classification_id, TrackEmbedding.vector).join(
                Classification, Classification.id == TrackEmbedding.classification_id
            ).where(*where(TrackEmbedding.classification_id, TrackEmbedding.space)), owner_key_id)
        )
    statement = owned_by(
        select(id_column, distance.label("d"))
        .join(Classification, Classification.id == id_column)
        .where(*where(id_column, space_column)),
        owner_key_id,
    ).order_by("d", id_column).limit(k)
    return [Neighbour(i, round(1.0 - float(d), 6)) for i, d in session.execute(statement)]


def _search_numpy(session: Session, query: np.ndarray, k: int, statement: Any) -> list[Neighbour]:
    """Exact search in NumPy over the stored vectors ``statement`` selects (id, blob): the fallback."""
    rows = session.execute(statement).all()
    if not rows:
        return []
    ids = np.array([r[0] for r in rows])
    scores = np.stack([from_blob(r[1]) for r in rows]) @ query
    order = np.lexsort((ids, -scores))[:k]
    return [Neighbour(str(ids[i]), round(float(scores[i]), 6)) for i in order]
