"""Database engine, sessions and migrations (SQLite by default, PostgreSQL via psycopg 3).

The schema is created and upgraded by Alembic (``upgrade head``), run programmatically by
:func:`run_migrations` when the app starts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
ALEMBIC_INI = Path(__file__).resolve().parent / "alembic.ini"
_PG_MIGRATION_LOCK = 7_311_142  # pg_advisory_lock key serialising concurrent upgrades


def create_db_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite files get their directory, WAL and a busy timeout.

    Parameters
    ----------
    url : str
        SQLAlchemy URL, e.g. ``sqlite:////var/lib/genrekit/genrekit.sqlite`` or
        ``postgresql+psycopg://user@127.0.0.1:5432/genrekit``.
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        kwargs = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        module = _sqlite_module()
        if module is not None:
            kwargs["module"] = module
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            _load_sqlite_vec(dbapi_connection)

    return engine


def _sqlite_module() -> Any | None:
    """The DB-API module for SQLite when the standard one will not do, else None.

    Python builds without loadable SQLite extensions (no ``enable_load_extension``) cannot
    load sqlite-vec; ``pysqlite3`` (the same module with its own SQLite, from the
    ``pysqlite3-binary`` wheel) can, and is used where installed.
    """
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return None
    try:
        import pysqlite3.dbapi2 as module  # type: ignore[import-not-found]
    except ImportError:
        return None
    return module


def _load_sqlite_vec(dbapi_connection: Any) -> bool:
    """Load the sqlite-vec extension into a SQLite connection (vector search in SQL).

    Returns False, leaving the connection as it was, where the package is missing or this
    Python's sqlite3 cannot load extensions (search then runs in NumPy).
    """
    try:
        import sqlite_vec
    except ImportError:
        return False
    try:
        dbapi_connection.enable_load_extension(True)
        try:
            sqlite_vec.load(dbapi_connection)
        finally:
            dbapi_connection.enable_load_extension(False)
    except Exception:  # noqa: BLE001 - AttributeError or the driver's own error: no extension, fall back
        return False
    return True


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    config = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.is_file() else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def run_migrations(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database schema to ``revision`` (``upgrade head`` by default).

    On SQLite, foreign keys are off while the migrations run: a batch migration rebuilds a
    table (copy, drop, rename), and dropping ``classifications`` with foreign keys on would
    cascade-delete the rows pointing at it (stored audio, embeddings, corrections).
    """
    config = alembic_config(engine)
    with engine.connect() as connection, migrating(connection), connection.begin():
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextmanager
def migrating(connection: Connection) -> Iterator[None]:
    """Prepare ``connection`` (not yet in a transaction) for migrations, and restore it after.

    On SQLite, foreign keys are off meanwhile (the pragma only changes outside a transaction);
    other databases are left as they are.
    """
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        yield
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def check_database(engine: Engine) -> None:
    """Run ``SELECT 1``; raises the driver's error when the database is unreachable."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
