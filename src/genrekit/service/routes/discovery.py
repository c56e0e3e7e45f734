"""Discovery: ``/classifications/{id}/similar``, ``/search`` and the ``/catalog`` views."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from genrekit.service.answers import discovery
from genrekit.service.answers.classification import embedding_space, to_summary
from genrekit.service.deps import CursorQuery, PageSizeQuery, PrincipalDep, SessionDep, StateDep
from genrekit.service.errors import NotFoundError
from genrekit.service.problems import problem_responses
from genrekit.store import queries
from genrekit.service.schemas import (
    CatalogMapPublic,
    CatalogStatsPublic,
    SearchHit,
    SearchPublic,
    SimilarPublic,
    SimilarTrack,
)
from genrekit.store.vectors import from_blob, get_embedding, search_similar

router = APIRouter(tags=["discovery"])

MAX_NEIGHBOURS = 100
MAX_MAP_POINTS = 20000

# The floor under which a neighbour is not called similar, per embedding space, chosen from data:
# the 95th percentile of the cosine similarities of different-genre pairs of shared clips (see
# benchmarks/similarity_floor.py and docs/catalog.md). Spaces not measured get NO_DATA_FLOOR.
SIMILARITY_FLOORS = {"genrekit-gtzan-musicnn/msd-penultimate-std@1": 0.47}  # p95 0.468 over 6660 pairs
NO_DATA_FLOOR = 0.0  # a space without measurements: at least not pointing away


def similarity_floor(space: str) -> float:
    """The similarity (cosine) a neighbour in ``space`` must reach to be listed."""
    return SIMILARITY_FLOORS.get(space, NO_DATA_FLOOR)


def score_meaning(space: str, floor: float) -> str:
    """What a similarity percentage means, in one sentence for people."""
    measured = space in SIMILARITY_FLOORS
    basis = (
        "closer than 95 in 100 pairs of tracks of different genres were in our measurements"
        if measured
        else "no measurements for this model yet"
    )
    return (
        f"Similarity is how alike the model hears two tracks (the cosine of their embeddings: 100 % is the same sound). "
        f"Only tracks at {floor:.0%} or more are listed ({basis})."
    )


GenreQuery = Annotated[str | None, Query(max_length=200, description="Only tracks whose top genre is this label.")]


@router.get(
    "/classifications/{classification_id}/similar",
    response_model=SimilarPublic,
    summary="Stored tracks that sound most like this one",
    responses=problem_responses(404, 422),
)
def similar(
    classification_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    k: Annotated[int, Query(ge=1, le=MAX_NEIGHBOURS, description="Number of neighbours.")] = 10,
    genre: GenreQuery = None,
    min_score: Annotated[
        float | None,
        Query(ge=-1.0, le=1.0, description="Least similarity listed (default: the floor measured for the model's embedding)."),
    ] = None,
) -> SimilarPublic:
    owner = principal.key_id
    row = queries.get_owned_classification(session, classification_id=classification_id, owner_key_id=owner)
    stored = get_embedding(session, classification_id=classification_id)
    if stored is None:
        raise NotFoundError(
            f"classification {classification_id!r} has no embedding (stored before embeddings, or by a model without one)"
        )
    hits = search_similar(
        session,
        space=stored.space,
        query=from_blob(stored.vector),
        k=k,
        genre=genre or None,
        exclude_id=row.id,
        exclude_sha256=row.sha256,
        owner_key_id=owner,
    )
    floor = similarity_floor(stored.space) if min_score is None else float(min_score)
    hits = [h for h in hits if h.score >= floor]
    neighbours = (queries.get_classification(session, classification_id=h.classification_id, owner_key_id=owner) for h in hits)
    rows = {r.id: r for r in neighbours if r is not None}
    data = [
        SimilarTrack(
            id=h.classification_id,
            name=rows[h.classification_id].filename,
            score=max(-1.0, min(1.0, h.score)),
            top_genre=rows[h.classification_id].top_genre,
            genres=rows[h.classification_id].result.get("genres", []),
        )
        for h in hits
        if h.classification_id in rows
    ]
    return SimilarPublic(id=row.id, space=stored.space, min_score=floor, score_meaning=score_meaning(stored.space, floor), data=data)


@router.get(
    "/search",
    response_model=SearchPublic,
    summary="Search the catalog by genre, tag, score and name",
    responses=problem_responses(400, 422),
)
def search(
    session: SessionDep,
    principal: PrincipalDep,
    genre: GenreQuery = None,
    tag: Annotated[str | None, Query(max_length=200, description="One of the track's top tags (case-insensitive).")] = None,
    min_score: Annotated[
        float, Query(ge=0.0, le=1.0, description="Least score of the genre/tag filter (of the top genre without them).")
    ] = 0.0,
    q: Annotated[str | None, Query(max_length=200, description="Substring of the file name or URL (case-insensitive).")] = None,
    limit: PageSizeQuery = 20,
    cursor: CursorQuery = None,
) -> SearchPublic:
    rows, next_cursor = queries.list_classifications(
        session, genre=genre or None, tag=tag or None, min_score=min_score, name_contains=q or None, limit=limit,
        cursor=cursor or None, owner_key_id=principal.key_id,
    )
    hits = [SearchHit(**to_summary(row).model_dump(), tags=row.result.get("tags", [])) for row in rows]
    return SearchPublic(data=hits, next_cursor=next_cursor)


@router.get("/catalog/stats", response_model=CatalogStatsPublic, summary="Catalog size and genre distribution")
def catalog_stats(session: SessionDep, principal: PrincipalDep) -> CatalogStatsPublic:
    genres = discovery.genre_counts(session, owner_key_id=principal.key_id)
    return CatalogStatsPublic(
        total=sum(genres.values()), genres=genres, spaces=discovery.spaces(session, owner_key_id=principal.key_id)
    )


@router.get(
    "/catalog/map",
    response_model=CatalogMapPublic,
    summary="2-D map of the catalog's embeddings (PCA), newest tracks first",
    responses=problem_responses(422),
)
def catalog_map(
    session: SessionDep,
    state: StateDep,
    principal: PrincipalDep,
    space: Annotated[
        str | None, Query(max_length=300, description="Embedding space; default: the loaded model's, else the largest.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_MAP_POINTS, description="Most tracks shown.")] = 5000,
) -> CatalogMapPublic:
    counts = discovery.spaces(session, owner_key_id=principal.key_id)
    if space is None:
        current = embedding_space(state.classifier) if state.classifier is not None else None
        space = current if current in counts else max(counts, key=lambda s: counts[s], default=None)
    if space is None:
        return CatalogMapPublic(space=None, explained_variance=[], points=[])
    points, explained = discovery.catalog_map(session, space=space, limit=limit, owner_key_id=principal.key_id)
    return CatalogMapPublic(space=space, explained_variance=explained, points=points)
