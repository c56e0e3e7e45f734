"""Storage: Alembic migrations and the queries, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from genrekit.store import queries
from genrekit.store.db import alembic_config, create_db_engine, make_session_factory, run_migrations
from genrekit.store.errors import BadCursor
from tests.service.postgres import DROP_ALL

T0 = dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=dt.timezone.utc)


def _result(genre: str, duration_s: float = 1.0) -> dict:
    return {
        "name": "x.wav",
        "duration_s": duration_s,
        "model": {"name": "m", "version": "1"},
        "genres": [{"genre": genre, "score": 0.9}, {"genre": "other", "score": 0.1}],
        "segments": [],
        "tags": [],
        "warnings": [],
    }


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'nested' / 'db.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = create_db_engine(url)
    if request.param == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(DROP_ALL))
    run_migrations(engine)
    yield engine
    engine.dispose()


def test_migrations_create_the_schema_and_are_idempotent(engine: Engine) -> None:
    run_migrations(engine)  # second run: nothing to do
    inspector = inspect(engine)
    assert {"classifications", "classification_audio", "alembic_version"} <= set(inspector.get_table_names())
    columns = {c["name"] for c in inspector.get_columns("classifications")}
    assert columns >= {
        "id",
        "created_at",
        "sha256",
        "filename",
        "duration_s",
        "model_name",
        "model_version",
        "top_genre",
        "top_score",
        "result",
        "visuals",
    }
    assert "ix_classifications_content" in {ix["name"] for ix in inspector.get_indexes("classifications")}
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head
    assert "track_embeddings" in inspector.get_table_names()


def test_downgrade_removes_the_tables(engine: Engine) -> None:
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert "classifications" not in inspect(engine).get_table_names()


def test_crud_round_trip_dedup_lookup_and_pagination(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        for i in range(5):
            queries.create_classification(
                session,
                classification_id=f"id{i}",
                created_at=T0 + dt.timedelta(seconds=i // 2),  # pairs share a timestamp
                sha256=f"{i % 2:064d}",
                filename=f"f{i}.wav",
                result=_result("rock" if i % 2 else "jazz", duration_s=float(i)),
                visuals={"peaks": [0.5]},
                audio=b"RIFF" if i == 0 else None,
                audio_media_type="audio/wav",
            )
    with sessions() as session:
        row = queries.get_classification(session, classification_id="id3")
        assert row is not None and row.top_genre == "rock" and row.duration_s == 3.0
        assert row.created_at == T0 + dt.timedelta(seconds=1) and row.created_at.tzinfo is not None
        assert row.result["genres"][0] == {"genre": "rock", "score": 0.9}
        assert queries.get_classification(session, classification_id="nope") is None
        found = queries.find_by_content(session, sha256=f"{1:064d}", model_name="m", model_version="1")
        assert found is not None and found.id == "id3"
        assert queries.find_by_content(session, sha256=f"{1:064d}", model_name="m", model_version="2") is None
        audio = queries.get_audio(session, classification_id="id0")
        assert audio is not None and audio.content == b"RIFF" and audio.media_type == "audio/wav"
        seen, cursor = [], None
        while True:
            rows, cursor = queries.list_classifications(session, limit=2, cursor=cursor)
            seen += [r.id for r in rows]
            if cursor is None:
                break
        assert seen == ["id4", "id3", "id2", "id1", "id0"]
        rock, _ = queries.list_classifications(session, genre="rock", limit=10)
        assert [r.id for r in rock] == ["id3", "id1"]
        with pytest.raises(BadCursor):
            queries.list_classifications(session, cursor="!!!")


def test_one_page_query_serves_the_history_and_the_search_filters(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    stored = [  # (file name, top genre, top score, tags)
        ("Rock_100%.wav", "rock", 0.9, [{"tag": "Guitar", "score": 0.8}]),
        ("rock-x100.wav", "rock", 0.4, [{"tag": "guitar", "score": 0.3}]),
        ("Émile.wav", "jazz", 0.7, [{"tag": "piano", "score": 0.9}]),
        ("jazz.wav", "jazz", 0.95, [{"tag": "guitar", "score": 0.9}]),
    ]
    with sessions() as session:
        for i, (name, genre, score, tags) in enumerate(stored):
            result = {**_result(genre), "genres": [{"genre": genre, "score": score}], "tags": tags}
            queries.create_classification(
                session, classification_id=f"id{i}", created_at=T0 + dt.timedelta(seconds=i), sha256=f"{i:064d}",
                filename=name, result=result, visuals=None,
            )

    def ids(**filters: Any) -> list[str]:
        with sessions() as session:
            rows, _ = queries.list_classifications(session, limit=10, **filters)
            return [r.id for r in rows]

    assert ids(name_contains="ROCK") == ["id1", "id0"]  # any case
    assert ids(name_contains="100%") == ["id0"] and ids(name_contains="k_") == ["id0"]  # wildcards are literal
    assert ids(name_contains="Émile") == ["id2"]
    assert ids(min_score=0.8) == ["id3", "id0"]  # the top genre's score without a genre or tag
    assert ids(tag="GUITAR") == ["id3", "id1", "id0"]
    assert ids(tag="guitar", min_score=0.5) == ["id3", "id0"]  # the tag's score
    assert ids(genre="rock", tag="guitar", min_score=0.5) == ["id0"]  # the genre's and the tag's
    with sessions() as session:
        first, cursor = queries.list_classifications(session, tag="guitar", limit=2)
        rest, last = queries.list_classifications(session, tag="guitar", limit=2, cursor=cursor)
    assert [r.id for r in first + rest] == ["id3", "id1", "id0"] and last is None


def test_stored_audio_is_measured_and_read_in_slices_by_the_database(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    audio = bytes(range(256)) * 40  # every byte value, including NUL
    with sessions() as session:
        queries.create_classification(
            session,
            classification_id="a1",
            created_at=T0,
            sha256="f" * 64,
            filename="a.wav",
            result=_result("jazz"),
            visuals=None,
            audio=audio,
            audio_media_type="audio/wav",
        )
    with sessions() as session:
        assert queries.get_audio_meta(session, classification_id="a1") == queries.AudioMeta("audio/wav", len(audio), "f" * 64)
        assert queries.get_audio_meta(session, classification_id="nope") is None
        assert queries.read_audio_bytes(session, classification_id="a1", start=0, n_bytes=10) == audio[:10]
        assert queries.read_audio_bytes(session, classification_id="a1", start=255, n_bytes=3) == audio[255:258]
        assert queries.read_audio_bytes(session, classification_id="a1", start=len(audio) - 5, n_bytes=100) == audio[-5:]
        assert queries.read_audio_bytes(session, classification_id="nope", start=0, n_bytes=10) == b""


def test_orm_tables_match_the_migrations(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata

    from genrekit.store.tables import Base

    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diffs == []
