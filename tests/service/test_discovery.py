"""Discovery API: similar tracks, catalog search, stats and map, on SQLite (sqlite-vec)
and on a real PostgreSQL with pgvector (pgserver)."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from genrekit.audio import load_audio
from genrekit.bundle.embedding import EmbeddingSpec
from genrekit.predict import Prediction
from genrekit.service import create_app
from genrekit.store.db import create_db_engine, make_session_factory, run_migrations
from genrekit.store.vectors import prepare_vector_search, search_similar, store_embedding
from tests.service.conftest import FAKE_SR, FakeClassifier, assert_problem, make_settings, make_wav, upload
from tests.service.postgres import DROP_ALL

# (file name, tone Hz, duration s): the fake embedding is the tone's pitch on a circle, so
# 440 and 466 Hz are neighbours and 1760 Hz is far; the duration picks the top genre.
LIBRARY = [
    ("a440.wav", 440.0, 2.0),
    ("b466.wav", 466.0, 3.0),
    ("c494.wav", 494.0, 2.0),
    ("d880.wav", 880.0, 3.0),
    ("e1760.wav", 1760.0, 4.0),
]


class EmbeddingFakeClassifier(FakeClassifier):
    """:class:`FakeClassifier` with a 3-D embedding: the log-pitch of the input's strongest
    frequency as an angle (a quarter turn per octave), plus a constant component."""

    embedding = EmbeddingSpec(name="fake-pitch", version="1", blocks=("fake/pitch",), standardise=False, dim=3)

    def predict(self, source: np.ndarray | str, *, embed: bool = False, **kwargs: Any) -> Prediction:  # type: ignore[override]
        prediction = super().predict(source, **kwargs)
        if not embed:
            return prediction
        y = load_audio(source, sr=FAKE_SR)[0] if isinstance(source, str) else np.asarray(source, dtype=np.float64)
        spectrum = np.abs(np.fft.rfft(y))
        peak_hz = float(np.argmax(spectrum)) * FAKE_SR / len(y)
        angle = 0.5 * np.pi * np.log2(max(peak_hz, 1.0) / 440.0)
        vector = np.array([np.cos(angle), np.sin(angle), 0.5])
        vector /= np.linalg.norm(vector)
        segments = [list(vector) for _ in prediction.segments]
        return Prediction(**{**prediction.__dict__, "embedding": list(vector), "segment_embeddings": segments})


def _load_library(client: TestClient) -> dict[str, dict[str, Any]]:
    out = {}
    for i, (name, freq, duration) in enumerate(LIBRARY):
        response = upload(client, make_wav(duration, freq_hz=freq, seed=i), filename=name)
        assert response.status_code in (200, 201), response.text
        out[name] = response.json()
    return out


@pytest.fixture(scope="module")
def pgvector_url() -> Iterator[str]:
    """A throwaway PostgreSQL with pgvector (the pgserver wheel); skips when it cannot start."""
    try:
        import pgserver
    except ImportError as error:
        pytest.skip(f"pgserver is not installed ({error}); pip install genrekit[vector]")
    directory = tempfile.mkdtemp(prefix="genrekit-pgvector-")
    try:
        server = pgserver.get_server(directory, cleanup_mode="delete")
    except Exception as error:  # noqa: BLE001 - any failure to start is a skip with its reason
        pytest.skip(f"pgserver could not start PostgreSQL: {error}")
    uri = server.get_uri()
    try:
        yield uri.replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def library_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    overrides: dict[str, Any] = {}
    if request.param == "postgresql":
        url = request.getfixturevalue("pgvector_url")
        engine = create_db_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(DROP_ALL)
            )
        run_migrations(engine)
        assert prepare_vector_search(engine) == "pgvector"  # the search below runs in pgvector, not the fallback
        engine.dispose()
        overrides["database_url"] = url
    app = create_app(make_settings(tmp_path, **overrides), classifier=EmbeddingFakeClassifier())
    with TestClient(app) as client:
        yield client


def test_similar_returns_the_nearest_tracks_best_first(library_client: TestClient) -> None:
    library = _load_library(library_client)
    query = library["a440.wav"]
    response = library_client.get(f"/api/v1/classifications/{query['id']}/similar", params={"k": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["space"] == "fake-pitch@1"
    names = [hit["name"] for hit in body["data"]]
    assert names == ["b466.wav", "c494.wav", "d880.wav"]
    scores = [hit["score"] for hit in body["data"]]
    assert scores == sorted(scores, reverse=True) and scores[0] < 1.0
    assert all(hit["id"] != query["id"] for hit in body["data"])
    assert body["data"][0]["genres"][0]["genre"] == body["data"][0]["top_genre"]


def test_similar_filters_by_genre(library_client: TestClient) -> None:
    library = _load_library(library_client)
    genre = library["d880.wav"]["genres"][0]["genre"]
    response = library_client.get(
        f"/api/v1/classifications/{library['a440.wav']['id']}/similar", params={"k": 10, "genre": genre}
    )
    hits = response.json()["data"]
    assert hits and all(hit["top_genre"] == genre for hit in hits)
    assert {hit["name"] for hit in hits} == {n for n, c in library.items() if c["genres"][0]["genre"] == genre} - {"a440.wav"}


def test_similar_of_unknown_or_unembedded_classification_is_404(library_client: TestClient, tmp_path: Path) -> None:
    assert_problem(library_client.get("/api/v1/classifications/nope/similar"), 404)


def test_search_filters_and_paginates(client_with_library: tuple[TestClient, dict[str, Any]]) -> None:
    client, library = client_with_library
    page = client.get("/api/v1/search", params={"q": "B466"}).json()
    assert [hit["filename"] for hit in page["data"]] == ["b466.wav"] and page["next_cursor"] is None
    genre = library["d880.wav"]["genres"][0]["genre"]
    by_genre = client.get("/api/v1/search", params={"genre": genre}).json()["data"]
    assert by_genre and all(hit["top_genre"] == genre for hit in by_genre)
    assert client.get("/api/v1/search", params={"min_score": 0.95}).json()["data"] == []
    tagged = client.get("/api/v1/search", params={"tag": "GUITAR", "min_score": 0.5}).json()["data"]
    assert len(tagged) == len(LIBRARY) and tagged[0]["tags"][0]["tag"] == "guitar"
    assert client.get("/api/v1/search", params={"tag": "guitar", "min_score": 0.9}).json()["data"] == []
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/search", params=params).json()
        seen += [hit["id"] for hit in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(c["id"] for c in library.values())
    assert_problem(client.get("/api/v1/search", params={"cursor": "not-a-cursor"}), 400)


def test_catalog_stats_and_map(client_with_library: tuple[TestClient, dict[str, Any]]) -> None:
    client, library = client_with_library
    stats = client.get("/api/v1/catalog/stats").json()
    assert stats["total"] == len(LIBRARY) and sum(stats["genres"].values()) == len(LIBRARY)
    assert stats["spaces"] == {"fake-pitch@1": len(LIBRARY)}
    body = client.get("/api/v1/catalog/map").json()
    assert body["space"] == "fake-pitch@1" and len(body["points"]) == len(LIBRARY)
    assert max(max(abs(p["x"]), abs(p["y"])) for p in body["points"]) == pytest.approx(1.0)
    assert sum(body["explained_variance"]) == pytest.approx(1.0, abs=1e-3)
    xy = {p["name"]: np.array([p["x"], p["y"]]) for p in body["points"]}
    assert np.linalg.norm(xy["a440.wav"] - xy["b466.wav"]) < np.linalg.norm(xy["a440.wav"] - xy["e1760.wav"])


@pytest.fixture
def client_with_library(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    app = create_app(make_settings(tmp_path), classifier=EmbeddingFakeClassifier())
    with TestClient(app) as client:
        yield client, _load_library(client)


def test_vectors_of_other_spaces_never_mix_and_fallback_search_agrees(tmp_path: Path) -> None:
    from genrekit.store import queries

    engine = create_db_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    run_migrations(engine)
    assert prepare_vector_search(engine) == "sqlite-vec"
    sessions = make_session_factory(engine)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((30, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with sessions() as session:
        for i, v in enumerate(vectors):
            queries.create_classification(
                session, classification_id=f"id{i:02d}", created_at=dt.datetime.now(dt.timezone.utc), sha256=f"{i:064d}",
                filename=f"t{i}.wav", result={"duration_s": 1.0, "model": {"name": "m", "version": "1"},
                "genres": [{"genre": "rock", "score": 0.9}], "embedding": list(v)}, visuals=None,
                embedding_space="m@1" if i < 20 else "m@2",
            )
        stored = session.get(queries.Classification, "id00")
        assert "embedding" not in stored.result  # kept once, in the vector store
        hits = search_similar(session, space="m@1", query=vectors[0], k=5, exclude_id="id00")
        expected = sorted(range(1, 20), key=lambda j: -float(vectors[j] @ vectors[0]))[:5]
        assert [h.classification_id for h in hits] == [f"id{j:02d}" for j in expected]
        assert [h.score for h in hits] == pytest.approx([float(vectors[j] @ vectors[0]) for j in expected], abs=1e-5)
        with pytest.raises(ValueError):
            store_embedding(session, classification_id="id00", space="m@1", vector=[float("nan")] * 8)
    engine.dispose()


def test_search_map_and_neighbours_never_show_another_keys_tracks(tmp_path: Path) -> None:
    from genrekit.service.answers import discovery
    from genrekit.store import queries

    engine = create_db_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    run_migrations(engine)
    sessions = make_session_factory(engine)
    vectors = np.eye(4)[[0, 0, 1, 1]] + 0.01
    with sessions() as session:
        for i, (v, owner) in enumerate(zip(vectors, ["k1", "k2", "k1", None])):
            queries.create_classification(
                session, classification_id=f"id{i}", created_at=dt.datetime.now(dt.timezone.utc), sha256=f"{i:064d}",
                filename=f"t{i}.wav", visuals=None, embedding_space="m@1", owner_key_id=owner,
                result={"duration_s": 1.0, "model": {"name": "m", "version": "1"}, "genres": [{"genre": "rock", "score": 0.9}],
                        "tags": [{"tag": "guitar", "score": 0.9}], "embedding": list(v / np.linalg.norm(v))},
            )
        hits = search_similar(session, space="m@1", query=vectors[0] / np.linalg.norm(vectors[0]), k=10, exclude_id="id0", owner_key_id="k1")
        assert [h.classification_id for h in hits] == ["id2"]  # id1 is nearer but belongs to k2
        open_hits = search_similar(session, space="m@1", query=vectors[0], k=10, owner_key_id=None)
        assert [h.classification_id for h in open_hits] == ["id3"]
        rows, _ = queries.list_classifications(session, tag="guitar", owner_key_id="k2")
        assert [r.id for r in rows] == ["id1"]
        points, _ = discovery.catalog_map(session, space="m@1", owner_key_id="k1")
        assert sorted(p.id for p in points) == ["id0", "id2"]
        assert discovery.genre_counts(session, owner_key_id="k2") == {"rock": 1}
    engine.dispose()


def test_similar_lists_only_neighbours_above_the_floor_and_says_what_the_score_means(library_client: TestClient) -> None:
    from genrekit.service.routes.discovery import NO_DATA_FLOOR

    library = _load_library(library_client)
    url = f"/api/v1/classifications/{library['a440.wav']['id']}/similar"
    body = library_client.get(url, params={"k": 10}).json()
    assert body["min_score"] == NO_DATA_FLOOR  # the fake space was never measured
    assert all(hit["score"] >= NO_DATA_FLOOR for hit in body["data"]) and "cosine" in body["score_meaning"]
    scores = [hit["score"] for hit in library_client.get(url, params={"k": 10, "min_score": -1}).json()["data"]]
    middle = sorted(scores)[len(scores) // 2]
    strict = library_client.get(url, params={"k": 10, "min_score": middle}).json()
    assert strict["min_score"] == middle and [h["score"] for h in strict["data"]] == [s for s in scores if s >= middle]
    assert library_client.get(url, params={"k": 10, "min_score": 1.0}).json()["data"] == []
