"""The ORM tables match the migrations (the library_tracks table included)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from genrekit.store.db import create_db_engine, run_migrations
from genrekit.store.tables import Base


def test_orm_tables_match_the_migrations(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'schema.sqlite'}")
    run_migrations(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []
