"""The whole REST API on a real PostgreSQL (the storage itself is tested in ``tests/store``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from genrekit.service import create_app
from genrekit.store.db import create_db_engine
from tests.service.conftest import FakeClassifier, make_settings, make_wav, upload
from tests.service.postgres import DROP_ALL


@pytest.mark.postgres
def test_the_whole_api_runs_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    engine = create_db_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text(DROP_ALL))
    engine.dispose()
    classifier = FakeClassifier()
    settings = make_settings(tmp_path, database_url=postgres_url, keep_audio=True)
    with TestClient(create_app(settings, classifier=classifier)) as client:
        data = make_wav(1.0, seed=123)
        created = upload(client, data).json()
        assert upload(client, data).json()["cached"] is True
        assert client.get(f"/api/v1/classifications/{created['id']}").json()["genres"] == created["genres"]
        assert client.get(f"/api/v1/classifications/{created['id']}/visuals").json()["mel"]["n_mels"] == 64
        assert client.get(f"/api/v1/classifications/{created['id']}/audio").content == data
        partial = client.get(f"/api/v1/classifications/{created['id']}/audio", headers={"Range": "bytes=40-99"})
        assert partial.status_code == 206 and partial.content == data[40:100]
        assert [i["id"] for i in client.get("/api/v1/classifications").json()["data"]] == [created["id"]]
        assert client.get("/readyz").json()["checks"] == {"model": "ok", "database": "ok"}
    assert classifier.n_calls == 1
