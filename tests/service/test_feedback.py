"""Corrections: stored with the track's embedding from the vector store, audio only when configured."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from genrekit.service import create_app
from genrekit.store.corrections import accepted_corrections
from genrekit.store.tables import Correction
from tests.service.conftest import assert_problem, make_settings, make_wav, upload
from tests.service.test_discovery import EmbeddingFakeClassifier


@pytest.mark.parametrize("keep", [False, True])
def test_a_correction_keeps_the_embedding_and_audio_only_when_configured(tmp_path: Path, keep: bool) -> None:
    app = create_app(make_settings(tmp_path, keep_audio=True, feedback_keep_audio=keep), classifier=EmbeddingFakeClassifier())
    with TestClient(app) as client:
        result = upload(client, make_wav(2.0, freq_hz=330.0)).json()
        wrong = result["genres"][0]["genre"]
        right = result["genres"][1]["genre"]
        assert_problem(client.post(f"/api/v1/classifications/{result['id']}/feedback", json={"genre": "polka"}), 422)
        assert_problem(client.post("/api/v1/classifications/nope/feedback", json={"genre": right}), 404)
        first = client.post(f"/api/v1/classifications/{result['id']}/feedback", json={"genre": wrong})
        again = client.post(f"/api/v1/classifications/{result['id']}/feedback", json={"genre": right})
        assert first.status_code == again.status_code == 201
        body = again.json()
        assert body["genre"] == right and body["predicted_genre"] == wrong
        assert body["has_embedding"] is True and body["audio_kept"] is keep
        with app.state.genrekit.new_session() as session:
            rows = list(session.scalars(select(Correction)))
            assert len(rows) == 1 and len(rows[0].embedding) == 3  # corrected again: replaced, not added
            training = accepted_corrections(session, labels=[right])
            assert [c.genre for c in training] == [right] and (training[0].audio is not None) is keep
        assert client.delete(f"/api/v1/classifications/{result['id']}").status_code == 204
        with app.state.genrekit.new_session() as session:
            assert list(session.scalars(select(Correction))) == []  # deleting the result deletes its correction


def test_a_correction_can_be_taken_back(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path), classifier=EmbeddingFakeClassifier())
    with TestClient(app) as client:
        result = upload(client, make_wav(1.0)).json()
        url = f"/api/v1/classifications/{result['id']}/feedback"
        assert_problem(client.delete(url), 404)  # nothing to take back yet
        right = result["genres"][-1]["genre"]
        assert client.post(url, json={"genre": right}).status_code == 201
        assert client.delete(url).status_code == 204
        assert_problem(client.delete(url), 404)
        with app.state.genrekit.new_session() as session:
            assert accepted_corrections(session) == []
