"""Discovery queries: genre counts, embedding spaces and the 2-D map of the catalog.

Storage helpers on a SQLAlchemy session (no HTTP here); the routes are in
:mod:`genrekit.service.routes.discovery`.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from genrekit.service.schemas import MapPointPublic
from genrekit.store.ownership import ALL_OWNERS, Owner, owned_by
from genrekit.store.tables import Classification, TrackEmbedding
from genrekit.store.vectors import from_blob


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


def catalog_map(
    session: Session, *, space: str, limit: int = 5000, owner_key_id: Owner = ALL_OWNERS
) -> tuple[list[MapPointPublic], list[float]]:
    """The newest ``limit`` tracks of ``space`` projected on their first two principal axes.

    Returns
    -------
    points : list of MapPointPublic
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
        MapPointPublic(id=r[0], name=r[1], genre=r[2], score=float(r[3]), x=round(float(x), 5), y=round(float(y), 5))
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
