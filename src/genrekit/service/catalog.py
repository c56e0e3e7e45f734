"""Catalog queries: keyword search with cursor pagination, genre counts, and the 2-D map.

Storage helpers on a SQLAlchemy session (no HTTP here); the routes are in
:mod:`genrekit.service.routes.discovery`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from genrekit.store.ownership import ALL_OWNERS, Owner, owned_by
from genrekit.store.queries import encode_cursor, escape_like, newest_first_after, newest_first_page
from genrekit.store.tables import Classification, TrackEmbedding
from genrekit.store.vectors import from_blob

SCAN_LIMIT = 2000  # rows examined per search page when a tag filter runs in Python


def _has_tag(result: dict[str, Any], tag: str, min_score: float) -> bool:
    wanted = tag.lower()
    return any(str(t.get("tag", "")).lower() == wanted and float(t.get("score", 0.0)) >= min_score for t in result.get("tags") or [])


def search_classifications(
    session: Session,
    *,
    genre: str | None = None,
    tag: str | None = None,
    min_score: float = 0.0,
    q: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
    owner_key_id: Owner = ALL_OWNERS,
) -> tuple[list[Classification], str | None]:
    """One page of the catalog matching every filter given, newest first.

    Parameters
    ----------
    genre : str or None
        Top genre equals this label (and its score is at least ``min_score``).
    tag : str or None
        One of the stored top tags equals this (case-insensitive), with a score of at least
        ``min_score``.
    min_score : float in [0, 1]
        Threshold of the genre and tag scores; without either, of the top genre's score.
    q : str or None
        Case-insensitive substring of the file name (or URL).
    limit : int
        Page size.
    cursor : str or None
        ``next_cursor`` of the previous page.
    owner_key_id : str, None or ALL_OWNERS
        Only this API key's classifications (``None``: the open mode's).

    Returns
    -------
    rows, next_cursor
        ``next_cursor`` is None on the last page. With ``tag``, a page may hold fewer than
        ``limit`` rows (at most :data:`SCAN_LIMIT` rows are examined per page) and still
        have a next page.
    """
    statement = owned_by(select(Classification), owner_key_id)
    if genre:
        statement = statement.where(Classification.top_genre == genre)
    if min_score > 0 and not tag:
        statement = statement.where(Classification.top_score >= min_score)
    if q:
        pattern = f"%{escape_like(q.lower())}%"
        statement = statement.where(func.lower(Classification.filename).like(pattern, escape="\\"))
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


def genre_counts(session: Session, *, owner_key_id: Owner = ALL_OWNERS) -> dict[str, int]:
    """Number of stored classifications (of this owner) per top genre."""
    statement = owned_by(select(Classification.top_genre, func.count()), owner_key_id).group_by(Classification.top_genre)
    return {genre: int(n) for genre, n in session.execute(statement)}


def spaces(session: Session, *, owner_key_id: Owner = ALL_OWNERS) -> dict[str, int]:
    """Number of stored track embeddings (of this owner) per embedding space."""
    statement = owned_by(
        select(TrackEmbedding.space, func.count()).join(Classification, Classification.id == TrackEmbedding.classification_id),
        owner_key_id,
    ).group_by(TrackEmbedding.space)
    return {space: int(n) for space, n in session.execute(statement)}


@dataclass(frozen=True)
class MapPoint:
    """One track on the 2-D catalog map."""

    id: str
    name: str | None
    genre: str
    score: float
    x: float
    y: float


def catalog_map(
    session: Session, *, space: str, limit: int = 5000, owner_key_id: Owner = ALL_OWNERS
) -> tuple[list[MapPoint], list[float]]:
    """The newest ``limit`` tracks of ``space`` projected on their first two principal axes.

    Returns
    -------
    points : list of MapPoint
        Coordinates scaled to [-1, 1] on the wider axis.
    explained : list of float
        Fraction of the variance each axis explains.
    """
    statement = (
        owned_by(
            select(Classification.id, Classification.filename, Classification.top_genre, Classification.top_score, TrackEmbedding.vector)
            .join(TrackEmbedding, TrackEmbedding.classification_id == Classification.id)
            .where(TrackEmbedding.space == space),
            owner_key_id,
        )
        .order_by(Classification.created_at.desc(), Classification.id.desc())
        .limit(limit)
    )
    rows = session.execute(statement).all()
    if not rows:
        return [], []
    coords, explained = pca_2d(np.stack([from_blob(r[4]) for r in rows]))
    return [
        MapPoint(id=r[0], name=r[1], genre=r[2], score=float(r[3]), x=round(float(x), 5), y=round(float(y), 5))
        for r, (x, y) in zip(rows, coords)
    ], explained


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Rows projected on their first two principal axes, scaled to [-1, 1] on the wider one.

    Signs are fixed (each axis' largest loading positive) so the map does not flip between
    calls. Fewer than two rows or dimensions give zeros where an axis is missing.
    """
    x = np.asarray(vectors, dtype=np.float64)
    centred = x - x.mean(axis=0)
    coords = np.zeros((len(x), 2))
    if len(x) < 2:
        return coords, [0.0, 0.0]
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    n_axes = min(2, vt.shape[0])
    axes = vt[:n_axes] * np.sign(vt[:n_axes, [int(i) for i in np.abs(vt[:n_axes]).argmax(axis=1)]].diagonal())[:, None]
    coords[:, :n_axes] = centred @ axes.T
    extent = float(np.abs(coords).max())
    if extent > 0:
        coords /= extent
    total = float(np.sum(singular**2))
    explained = [float(singular[i] ** 2 / total) if total > 0 and i < len(singular) else 0.0 for i in range(2)]
    return coords, [round(e, 4) for e in explained]
