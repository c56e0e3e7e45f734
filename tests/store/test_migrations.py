"""An existing database upgrades: from every earlier revision to head, rows kept.

The migrations moved from ``genrekit/service/migrations`` to ``genrekit/store/migrations``
with every revision id and file unchanged; a database only records its revision id
(``alembic_version``), so one made by an earlier release at any revision upgrades here.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine

from genrekit.store import queries
from genrekit.store.db import alembic_config, create_db_engine, make_session_factory, run_migrations
from genrekit.store.tables import Base

REVISIONS = (  # the chain every released database is on; ids are never renamed
    "0001_initial",
    "0002_library_tracks",
    "0003_api_keys",
    "0004_track_embeddings",
    "0005_corrections",
)
CREATED = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_the_revision_chain_is_unchanged() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    chain = [revision.revision for revision in script.walk_revisions("base", "heads")]
    assert tuple(reversed(chain)) == REVISIONS
    assert Path(script.dir).parts[-2:] == ("store", "migrations")


@pytest.mark.parametrize("old", REVISIONS[:-1])
def test_a_database_at_an_earlier_revision_upgrades_to_head_with_its_rows(tmp_path: Path, old: str) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    run_migrations(engine, old)
    assert _revision(engine) == old
    result = {"name": "old.wav", "duration_s": 30.0, "model": {"name": "m", "version": "1"},
              "genres": [{"genre": "jazz", "score": 0.8}], "segments": [], "tags": [], "warnings": []}
    with engine.begin() as connection:  # written as that release's schema has it: plain SQL, no ORM
        connection.execute(
            text(
                "INSERT INTO classifications (id, created_at, sha256, filename, duration_s, model_name, "
                "model_version, top_genre, top_score, result, visuals) VALUES "
                "('old1', :created, :sha, 'old.wav', 30.0, 'm', '1', 'jazz', 0.8, :result, NULL)"
            ),
            {"created": CREATED.isoformat(sep=" "), "sha": "a" * 64, "result": json.dumps(result)},
        )
        connection.execute(
            text("INSERT INTO classification_audio (classification_id, media_type, content) VALUES ('old1', 'audio/wav', :b)"),
            {"b": b"RIFF0123"},
        )

    run_migrations(engine)

    assert _revision(engine) == REVISIONS[-1]
    with engine.connect() as connection:  # the migrations turned foreign keys off only while they ran
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    with make_session_factory(engine)() as session:
        row = queries.get_owned_classification(session, classification_id="old1", owner_key_id=None)
        assert (row.filename, row.top_genre, row.result["genres"]) == ("old.wav", "jazz", result["genres"])
        assert queries.get_audio_meta(session, classification_id="old1").n_bytes == 8
        rows, _ = queries.list_classifications(session, owner_key_id=None)
        assert [r.id for r in rows] == ["old1"]
    engine.dispose()
