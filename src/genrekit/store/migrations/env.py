"""Alembic environment of the genrekit database.

Programmatic use (the app at startup) passes an open connection in
``config.attributes["connection"]``; command-line use builds an engine from
``sqlalchemy.url`` or, when unset, from :func:`genrekit.settings.database_url`
(``GENREKIT_DATABASE_URL``, else the SQLite file in the data directory).
"""

from __future__ import annotations

from alembic import context

from genrekit.settings import database_url
from genrekit.store.db import create_db_engine, migrating
from genrekit.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or database_url()
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn, migrating(conn), conn.begin():
            _run(conn)
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    """Emit the SQL without a database (``alembic upgrade head --sql``)."""
    url = config.get_main_option("sqlalchemy.url") or database_url()
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
