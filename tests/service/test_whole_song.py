"""The whole song's answer: once the background timeline has classified every window, the
stored genres, uncertainty, shares, history and catalog are those of all windows (the same
aggregation as the quick answer), on a song crafted so that the two answers differ."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient

from genrekit.bundle import ModelCard
from genrekit.predict import Classifier, aggregate_probabilities, assess_uncertainty, slice_windows, spread_starts
from genrekit.service import create_app
from genrekit.store import queries
from genrekit.store.db import create_db_engine, make_session_factory, run_migrations
from genrekit.store.tables import LibraryTrack
from genrekit.store.vectors import from_blob, get_embedding
from tests.predict.test_classifier import TINY_LABELS, TINY_SR, TINY_WEIGHT, TinyModel
from tests.service.conftest import make_settings, upload, wait_complete

POLL_TIMEOUT_S = 30.0
SONG_S = 20  # seconds: 20 one-second windows, 4 of them in the quick answer


def _classifier() -> Classifier:
    card = ModelCard(
        name="tiny-whole-song",
        version="1",
        model_type="tiny_test",
        labels=list(TINY_LABELS),
        sample_rate=TINY_SR,
        window_s=1.0,
        config={"max_windows": 4, "aggregation": "mean"},
    )
    return Classifier(TinyModel(TINY_WEIGHT), card, check_music=False)


def _crafted_song() -> np.ndarray:
    """Noise ("noisy") everywhere but in the 4 windows the quick answer reads, which hum ("tonal")."""
    n = SONG_S * TINY_SR
    y = 0.4 * np.random.default_rng(0).standard_normal(n)
    hum = 0.3 * np.sin(2 * np.pi * 55.0 * np.arange(TINY_SR) / TINY_SR)
    for start in spread_starts(n, window_length=TINY_SR, hop_length=TINY_SR, max_windows=4):
        y[start : start + TINY_SR] = hum
    return np.clip(y, -1, 1).astype(np.float32)


def _wav(y: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, y, TINY_SR, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def test_the_completed_timeline_is_the_stored_and_served_answer(tmp_path: Path) -> None:
    y = _crafted_song()
    _, _, windows = slice_windows(y, window_length=TINY_SR, hop_length=TINY_SR)
    probs = TinyModel(TINY_WEIGHT).predict_proba_windows(windows)
    track = aggregate_probabilities(probs, method="mean")  # every window, the card's rule
    expected = sorted(zip(TINY_LABELS, track), key=lambda kv: -kv[1])
    tops = [TINY_LABELS[i] for i in probs.argmax(axis=1)]
    assert tops.count("tonal") == 4 and tops.count("noisy") == 16  # the crafted song is what it should be

    with TestClient(create_app(make_settings(tmp_path), classifier=_classifier())) as client:
        data = _wav(y)
        quick = upload(client, data, filename="crafted.wav").json()
        assert quick["complete"] is False and len(quick["segments"]) == 4
        assert quick["genres"][0]["genre"] == "tonal"  # the first look reads the 4 hums
        full = wait_complete(client, quick["id"], POLL_TIMEOUT_S)

        assert full["complete"] is True and full["timeline"]["state"] == "complete"
        assert [g["genre"] for g in full["genres"]] == [g for g, _ in expected]
        np.testing.assert_allclose([g["score"] for g in full["genres"]], [s for _, s in expected], atol=1e-5)
        assert full["genres"][0]["genre"] == "noisy" != quick["genres"][0]["genre"]
        expected_level = assess_uncertainty(track, thresholds={"mixed_margin": 0.15, "mixed_top_score": 0.40}).level
        assert full["uncertainty"]["level"] == expected_level
        assert {s["genre"]: s["score"] for s in full["shares"]} == {"noisy": 0.8, "tonal": 0.2, "quiet": 0.0}
        assert len(full["segments"]) == SONG_S and full["name"] == quick["name"]

        history = client.get("/api/v1/classifications").json()["data"]
        assert history[0]["top_genre"] == "noisy" and history[0]["complete"] is True
        assert history[0]["genres"] == full["genres"]
        assert client.get("/api/v1/catalog/stats").json()["genres"] == {"noisy": 1}
        assert [h["id"] for h in client.get("/api/v1/search", params={"genre": "noisy"}).json()["data"]] == [quick["id"]]
        assert client.get("/api/v1/search", params={"genre": "tonal"}).json()["data"] == []

        again = upload(client, data, filename="crafted.wav").json()
        assert again["cached"] is True and again["genres"] == full["genres"]



def test_replacing_a_result_moves_the_top_genre_library_rows_and_embedding(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    run_migrations(engine)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    quick = {
        "name": "a.wav",
        "duration_s": 30.0,
        "model": {"name": "m", "version": "1"},
        "genres": [{"genre": "rock", "score": 0.4}, {"genre": "jazz", "score": 0.3}],
        "segments": [],
        "embedding": [1.0, 0.0],
    }
    with make_session_factory(engine)() as session:
        queries.create_classification(
            session, classification_id="c1", created_at=now, sha256="0" * 64, filename="a.wav", result=quick,
            visuals=None, embedding_space="m@1",
        )
        session.add(LibraryTrack(
            path="/lib/a.wav", library="/lib", size_bytes=1, mtime_ns=1, sha256="0" * 64, duration_s=30.0, model_name="m",
            model_version="1", status="ok", top_genre="rock", top_score=0.4, classification_id="c1", scanned_at=now,
        ))
        session.commit()
        whole = {**quick, "genres": [{"genre": "jazz", "score": 0.45}, {"genre": "rock", "score": 0.35}], "duration_s": 30.5}
        whole.pop("embedding")
        assert queries.replace_result(
            session, classification_id="c1", result=whole, embedding=[0.0, 1.0], segment_embeddings=[[0.0, 1.0]],
            embedding_space="m@1",
        )
        assert not queries.replace_result(session, classification_id="gone", result=whole)
    with make_session_factory(engine)() as session:
        row = queries.get_classification(session, classification_id="c1")
        assert (row.top_genre, row.top_score, row.duration_s) == ("jazz", 0.45, 30.5)
        track = session.query(LibraryTrack).one()
        assert (track.top_genre, track.top_score, track.duration_s) == ("jazz", 0.45, 30.5)
        stored = get_embedding(session, classification_id="c1")
        assert from_blob(stored.vector).tolist() == [0.0, 1.0] and stored.segment_vectors is not None
    engine.dispose()
