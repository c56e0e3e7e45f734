"""Real databases of earlier releases upgrade and read back: every row, byte and key.

Each ``release_db/release-<sha>.sqlite`` was filled by that release itself through its app,
REST API, key functions (where it had them) and ``genrekit scan``;
``release_db/make_release_db.py`` made them and says how to make them again, and
``release-<sha>.json`` records what each holds. Here the current code opens a copy the way
the app does and must find all of it.

- ``3c80a2c``, the release before storage moved out of ``service/``: already at the head
  revision, with keys, share links, embeddings and a correction.
- ``4a7294e``, the release before API keys: at ``0002_library_tracks``, so its upgrade runs
  0003 (the SQLite rebuild of ``classifications`` whose foreign-key cascade once deleted all
  stored audio), 0004 and 0005.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import text

from genrekit.catalog.database import iter_track_records
from genrekit.service import Settings, create_app
from genrekit.store.corrections import accepted_corrections
from genrekit.store.db import alembic_config, create_db_engine, make_session_factory, run_migrations
from genrekit.store.tables import Base

RELEASE_DIR = Path(__file__).parent / "release_db"
KEYED = "3c80a2c"  # before storage moved: keys, share links, embeddings, corrections (revision 0005)
KEYLESS = "4a7294e"  # before API keys: stored audio and scans only (revision 0002)
RELEASES = (KEYED, KEYLESS)
API = "/api/v1"


@pytest.fixture()
def release() -> str:
    """The release whose database a test opens (tests that apply to several parametrise it)."""
    return KEYED


@pytest.fixture()
def made(release: str) -> dict[str, Any]:
    """What the release put in its database (``release-<sha>.json``)."""
    return json.loads((RELEASE_DIR / f"release-{release}.json").read_text())


@pytest.fixture()
def db_url(tmp_path: Path, release: str) -> str:
    """A copy of the release's database (the committed file stays untouched)."""
    copy = tmp_path / "genrekit.sqlite"
    shutil.copyfile(RELEASE_DIR / f"release-{release}.sqlite", copy)
    return f"sqlite:///{copy}"


@pytest.fixture()
def client(tmp_path: Path, db_url: str, made: dict[str, Any]) -> Iterator[TestClient]:
    """The current app on the copy, with keys required where the release had keys (its startup migrates)."""
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url, require_keys="keys" in made, model_poll_s=0)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _auth(made: dict[str, Any], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {made['keys'][role]['secret']}"}


def _rows(made: dict[str, Any], owner: str | None) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in made["classifications"] if row["owner"] == owner}


@pytest.mark.parametrize("release", RELEASES)
def test_the_upgrade_keeps_every_row_and_byte(db_url: str, made: dict[str, Any]) -> None:
    engine = create_db_engine(db_url)
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == made["revision"]
    run_migrations(engine)

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        counts = {t: connection.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in made["tables"]}
        audio = connection.execute(text("SELECT classification_id, media_type, content FROM classification_audio"))
        kept = {i: {"media_type": m, "n_bytes": len(c), "sha256": hashlib.sha256(c).hexdigest()} for i, m, c in audio}
    assert kept == made["audio"]  # the 0003 migration's cascade once deleted stored audio: every byte is still there
    assert counts == made["tables"]

    with make_session_factory(engine)() as session:
        tracks = list(iter_track_records(session, library=made["library"]["root"]))
    assert [(t.path, t.status, t.classification_id, t.top_genre) for t in tracks] == [
        (t["path"], t["status"], t["classification_id"], t["top_genre"]) for t in made["library"]["tracks"]
    ]
    assert all(t.result is not None and t.result["genres"] for t in tracks)
    engine.dispose()


def test_the_old_correction_reads_back(db_url: str, made: dict[str, Any]) -> None:
    engine = create_db_engine(db_url)
    run_migrations(engine)
    with make_session_factory(engine)() as session:
        corrections = accepted_corrections(session)
    assert len(corrections) == 1
    correction, wanted = corrections[0], made["correction"]
    corrected = next(row for row in made["classifications"] if row["id"] == wanted["classification_id"])
    assert (correction.genre, correction.sha256) == (wanted["genre"], corrected["sha256"])
    assert len(correction.audio or b"") == wanted["n_audio_bytes"] == made["audio"][corrected["id"]]["n_bytes"]
    assert len(correction.embedding or []) == made["embeddings"][corrected["id"]]["dim"]
    engine.dispose()


def test_the_old_keys_see_their_old_results_and_only_theirs(client: TestClient, made: dict[str, Any]) -> None:
    admin, editor = _auth(made, "admin"), _auth(made, "editor")
    keys = client.get(f"{API}/keys", headers=admin).json()["data"]
    assert {(k["id"], k["role"]) for k in keys} == {(k["id"], k["role"]) for k in made["keys"].values()}

    for role, headers in (("admin", admin), ("editor", editor)):
        own = _rows(made, role)
        history = client.get(f"{API}/classifications", headers=headers).json()["data"]
        listed = {row["id"]: (row["filename"], row["top_genre"], [g["genre"] for g in row["genres"]]) for row in history}
        assert listed == {i: (row["filename"], row["top_genre"], row["genres"]) for i, row in own.items()}
        for i, row in own.items():
            query = {"q": row["filename"], "genre": row["top_genre"]}
            hits = client.get(f"{API}/search", params=query, headers=headers).json()["data"]
            assert [(h["id"], [g["genre"] for g in h["genres"]]) for h in hits] == [(i, row["genres"])]
        everything = client.get(f"{API}/search", headers=headers).json()["data"]
        assert {h["id"] for h in everything} == set(own)  # another key's rows and the scan's (no key) stay hidden
        for other in (row["id"] for row in made["classifications"] if row["id"] not in own):
            assert client.get(f"{API}/classifications/{other}", headers=headers).status_code == 404


def test_old_audio_shares_and_embeddings_answer(client: TestClient, made: dict[str, Any]) -> None:
    admin = _auth(made, "admin")
    first, second = sorted(_rows(made, "admin"))
    for i in (first, second):
        response = client.get(f"{API}/classifications/{i}/audio", headers=admin)
        assert response.status_code == 200
        assert hashlib.sha256(response.content).hexdigest() == made["audio"][i]["sha256"]

    shared = client.get(f"{API}/shared/{made['share']['token']}")  # no key: the link is the permission
    assert shared.status_code == 200 and shared.json()["id"] == made["share"]["classification_id"]

    similar = client.get(f"{API}/classifications/{first}/similar", params={"min_score": -1}, headers=admin)
    assert similar.status_code == 200
    assert similar.json()["space"] == made["embeddings"][first]["space"]
    assert [n["id"] for n in similar.json()["data"]] == [second]  # the admin's other track, nothing of the others


@pytest.mark.parametrize("release", [KEYLESS])
def test_keyless_results_list_and_play_back_without_keys(client: TestClient, made: dict[str, Any]) -> None:
    history = client.get(f"{API}/classifications", params={"limit": 100}).json()["data"]
    listed = {row["id"]: (row["filename"], row["top_genre"], [g["genre"] for g in row["genres"]]) for row in history}
    assert listed == {row["id"]: (row["filename"], row["top_genre"], row["genres"]) for row in made["classifications"]}

    for i, stored in made["audio"].items():
        response = client.get(f"{API}/classifications/{i}/audio")
        assert response.status_code == 200
        assert response.headers["content-type"] == stored["media_type"]
        assert (len(response.content), hashlib.sha256(response.content).hexdigest()) == (stored["n_bytes"], stored["sha256"])


@pytest.mark.parametrize("release", [KEYLESS])
def test_keyless_results_have_no_owner_after_the_upgrade(db_url: str, made: dict[str, Any]) -> None:
    engine = create_db_engine(db_url)
    run_migrations(engine)
    with engine.connect() as connection:
        owners = connection.execute(text("SELECT id, owner_key_id, share_hash FROM classifications")).all()
        keys = connection.execute(text("SELECT count(*) FROM api_keys")).scalar()
    engine.dispose()
    assert sorted(owners) == sorted((row["id"], None, None) for row in made["classifications"])
    assert keys == 0
