"""Start a throwaway PostgreSQL server for tests (initdb + pg_ctl on a free loopback port).

Used by the ``postgres_url`` fixture; every failure to start becomes a skip with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


# Every table the migrations create (and Alembic's own): emptying a reused test database.
DROP_ALL = (
    "DROP TABLE IF EXISTS corrections, track_vectors_pgv, track_embeddings, api_keys, library_tracks, classification_audio, "
    "classifications, alembic_version CASCADE"
)


class PostgresUnavailable(Exception):
    """No PostgreSQL server could be started here (the reason is the message)."""


def _bin_dir() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]), reverse=True
    )
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresUnavailable("no PostgreSQL server binaries (initdb) found; apt-get install postgresql")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _runner() -> tuple[list[str], int | None, int | None]:
    """Command prefix to run as a non-root user (initdb refuses root), and that user's ids."""
    if os.geteuid() != 0:
        return [], None, None
    for user in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            continue
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", user, "--"], entry.pw_uid, entry.pw_gid
    raise PostgresUnavailable("running as root and no 'postgres' or 'nobody' user with runuser to drop privileges")


@contextmanager
def running_postgres(database: str = "genrekit_test") -> Iterator[str]:
    """Start a server, create ``database``, yield its ``postgresql+psycopg://`` URL, then stop it."""
    bin_dir = _bin_dir()
    prefix, uid, gid = _runner()
    root = Path(tempfile.mkdtemp(prefix="genrekit-pg-"))
    data = root / "data"
    port = _free_port()
    user = "genrekit"
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        if uid is not None:
            os.chown(root, uid, gid)
        subprocess.run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "--no-sync", "-E", "UTF8"],
            check=True,
            capture_output=True,
            env=env,
            timeout=120,
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        subprocess.run(
            [
                *prefix,
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(root / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
            env=env,
            timeout=90,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        detail = getattr(error, "stderr", b"") or b""
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(
            f"could not start PostgreSQL: {error} {detail.decode(errors='replace')[-300:]}"
        ) from error
    try:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=port, user=user, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        yield f"postgresql+psycopg://{user}@127.0.0.1:{port}/{database}"
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            env=env,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)
