"""Make the databases of earlier releases that ``tests/store/test_release_db.py`` upgrades.

It must run against the code of one of the releases in :data:`RELEASES` (it refuses any
other commit) and fills the database with what that release has:

- ``3c80a2c`` (the parent of 14a28cf, the last commit with the tables, migrations and
  queries inside ``service/``; revision ``0005_corrections``): API keys, share links,
  embeddings and corrections.
- ``4a7294e`` (the parent of f6f64cb, the commit that brought API keys; revision
  ``0002_library_tracks``): stored audio and ``genrekit scan`` only, so the current code
  upgrades it through 0003 (the table rebuild for the keys), 0004 and 0005.

It uses only that release's own public paths (``genrekit.service.main.create_app``,
``genrekit.service.keys`` where it exists, the REST API and the ``genrekit scan`` command),
so the database is filled the way a user of that release filled theirs. From the repository
root, for release ``SHA``::

    git worktree add ../prev-release SHA
    PYTHONPATH=../prev-release/src python tests/store/release_db/make_release_db.py tests/store/release_db
    git worktree remove ../prev-release

What it does, with audio kept: where the release has keys, an admin key and an editor key
are created with that release's key functions; three short generated WAVs (2 s, 16 kHz
each) are uploaded through ``POST /api/v1/classify`` with the bundled default model (two by
the admin, one by the editor where there are keys); where there are keys the admin shares
its first result; where there are corrections (kept with their audio) the editor corrects
its own result (``POST .../feedback``); then ``genrekit scan`` classifies a folder of two
other WAVs into the same database. The scanned paths are then renamed from the throwaway
folder to :data:`LIBRARY_ROOT` (so the file names no machine path), and the file is vacuumed.

Writes ``release-<short sha>.sqlite`` and ``release-<short sha>.json`` (what was made:
ids, file names, per-table row counts, stored audio sizes and SHA-256, genres, and where the
release has them key ids and secrets, the share link, the correction and embeddings) into
the output folder.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16000  # Hz
CLIP_S = 2.0  # seconds per generated clip
LIBRARY_ROOT = "/home/user/Music"  # where the scanned library is said to live in the committed file
API = "/api/v1"
UPLOADS = (  # (key, file name, sound): two for the admin (so similar has a neighbour), one for the editor
    ("admin", "release-admin-chords.wav", "chords"),
    ("admin", "release-admin-drums.wav", "drums"),
    ("editor", "release-editor-saw.wav", "saw"),
)
KEYLESS_UPLOADS = tuple((None, f"release-{sound}.wav", sound) for _, _, sound in UPLOADS)  # the same sounds, no key
LIBRARY_FILES = ("library-one.wav", "library-two.wav")
TIMELINE_WAIT_S = 60.0  # longest wait for a background timeline (seconds)


@dataclass(frozen=True)
class Release:
    """What one earlier release has, which chooses the steps that fill its database."""

    revision: str  # its head migration
    keys: bool  # API keys with roles, results owned by a key, share links
    embeddings: bool  # each result's embedding is stored
    corrections: bool  # feedback is kept, with its audio
    settings: dict[str, Any] = field(default_factory=dict)  # its Settings beyond data_dir, database_url, audio, jobs

    @property
    def uploads(self) -> tuple[tuple[str | None, str, str], ...]:
        """(key role or None, file name, sound) of each upload."""
        return UPLOADS if self.keys else KEYLESS_UPLOADS


RELEASES = {  # short sha -> what it has; any other commit is refused
    "3c80a2c": Release(
        revision="0005_corrections", keys=True, embeddings=True, corrections=True,
        settings={"require_keys": True, "feedback_keep_audio": True, "model_poll_s": 0},
    ),
    "4a7294e": Release(revision="0002_library_tracks", keys=False, embeddings=False, corrections=False),
}


def clip(kind: str, seed: int) -> bytes:
    """A 16-bit mono WAV of :data:`CLIP_S` seconds at :data:`SAMPLE_RATE` Hz: ``chords``, ``drums`` or ``saw``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(CLIP_S * SAMPLE_RATE)) / SAMPLE_RATE
    if kind == "chords":
        signal = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 440.0)) / 4
    elif kind == "drums":
        envelope = np.exp(-((t * 4) % 1.0) * 30)
        signal = rng.normal(0.0, 0.5, t.size) * envelope + 0.5 * np.sin(2 * np.pi * 60 * t) * envelope
    else:
        f0 = 110.0 * (1 + seed)
        signal = 0.6 * (2 * ((t * f0) % 1.0) - 1) + 0.05 * rng.normal(0.0, 1.0, t.size)
    pcm = (np.clip(signal, -1.0, 1.0) * 0.8 * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def _wait_for_timeline(client: Any, headers: dict[str, str], classification_id: str) -> dict[str, Any]:
    """The stored result once its background timeline has finished."""
    deadline = time.monotonic() + TIMELINE_WAIT_S
    while True:
        body = client.get(f"{API}/classifications/{classification_id}", headers=headers).json()
        if body.get("timeline", {}).get("state") != "running" or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def _make_keys(state: Any) -> dict[str, dict[str, str]]:
    """An admin key and an editor key, made with the release's key functions."""
    from genrekit.service import keys

    made = {}
    with state.new_session() as session:
        for role in ("admin", "editor"):
            info, secret = keys.create_key(session, role=role, name=f"release {role}")
            made[role] = {"id": info.id, "secret": secret, "role": role}
    return made


def fill_through_the_app(release: Release, db_url: str, data_dir: Path) -> dict[str, Any]:
    """Uploads, and where the release has them keys, a share link and a correction, through its app."""
    from fastapi.testclient import TestClient

    from genrekit.service.config import Settings
    from genrekit.service.main import create_app

    settings = Settings(
        data_dir=data_dir, database_url=db_url, keep_audio=True, max_concurrent_jobs=1, **release.settings
    )
    app = create_app(settings)
    made: dict[str, Any] = {"keys": {}, "uploads": {}}
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200, "the bundled model did not load"
        if release.keys:
            made["keys"] = _make_keys(app.state.genrekit)
        headers = {role: {"Authorization": f"Bearer {key['secret']}"} for role, key in made["keys"].items()}
        headers[None] = {}
        for seed, (role, filename, sound) in enumerate(release.uploads):
            data = clip(sound, seed)
            response = client.post(f"{API}/classify", files={"file": (filename, data, "audio/wav")}, headers=headers[role])
            response.raise_for_status()
            body = _wait_for_timeline(client, headers[role], response.json()["id"])
            client.get(f"{API}/classifications/{body['id']}/visuals", headers=headers[role]).raise_for_status()
            made["uploads"].setdefault(role, []).append(body["id"])
        if release.keys:
            admin_id = made["uploads"]["admin"][0]
            share = client.post(f"{API}/classifications/{admin_id}/share", headers=headers["admin"])
            share.raise_for_status()
            made["share"] = {"classification_id": admin_id, "token": share.json()["token"]}
        if release.corrections:
            editor_id = made["uploads"]["editor"][0]
            result = client.get(f"{API}/classifications/{editor_id}", headers=headers["editor"]).json()
            genres = [g["genre"] for g in result["genres"]]
            feedback = client.post(
                f"{API}/classifications/{editor_id}/feedback", json={"genre": genres[1]}, headers=headers["editor"]
            )
            feedback.raise_for_status()
            made["correction"] = {"classification_id": editor_id, "genre": genres[1], "predicted_genre": genres[0]}
    return made


def scan_a_library(db_url: str, library: Path) -> None:
    """``genrekit scan`` of two generated WAVs into the same database (the release's command)."""
    library.mkdir()
    for seed, name in enumerate(LIBRARY_FILES):
        (library / name).write_bytes(clip("saw", seed + len(UPLOADS)))
    command = [sys.executable, "-m", "genrekit", "scan", str(library), "--db", db_url, "--workers", "1", "--quiet"]
    subprocess.run(command, check=True, env=os.environ.copy())


def finish(db_path: Path, library: Path) -> None:
    """Rename the scanned paths to :data:`LIBRARY_ROOT`, then vacuum into one file (no WAL)."""
    connection = sqlite3.connect(db_path)
    with connection:
        for column in ("path", "library"):
            connection.execute(
                f"UPDATE library_tracks SET {column} = ? || substr({column}, ?)",  # noqa: S608 - fixed column names
                (LIBRARY_ROOT, len(str(library)) + 1),
            )
    connection.execute("VACUUM")
    connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()


def describe(db_path: Path, made: dict[str, Any], sha: str, release: Release) -> dict[str, Any]:
    """What the database holds, for the test to compare with after the upgrade."""
    connection = sqlite3.connect(db_path)
    tables = [name for (name,) in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    counts = {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}  # noqa: S608
    owners = {key["id"]: role for role, key in made["keys"].items()}
    owner_column = "owner_key_id" if release.keys else "NULL"
    classifications = [
        {"id": i, "filename": f, **({"owner": owners.get(o)} if release.keys else {}), "sha256": s,
         "top_genre": g, "genres": [x["genre"] for x in json.loads(r)["genres"]]}
        for i, f, o, s, g, r in connection.execute(
            f"SELECT id, filename, {owner_column}, sha256, top_genre, result FROM classifications ORDER BY filename")  # noqa: S608
    ]
    audio = {i: {"media_type": m, "n_bytes": len(c), "sha256": hashlib.sha256(c).hexdigest()}
             for i, m, c in connection.execute("SELECT classification_id, media_type, content FROM classification_audio")}
    tracks = [{"path": p, "status": s, "classification_id": c, "top_genre": g} for p, s, c, g in connection.execute(
        "SELECT path, status, classification_id, top_genre FROM library_tracks ORDER BY path")]
    (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == release.revision, f"release {sha} made revision {revision}, not {release.revision}"
    described: dict[str, Any] = {
        "release": sha,
        "made_by": "tests/store/release_db/make_release_db.py",
        "revision": revision,
    }
    if release.keys:
        # Raw keys of this throwaway database: test fixtures, they open nothing else.
        described["keys"] = made["keys"]
        described["share"] = made["share"]
    if release.corrections:
        correction_audio = connection.execute("SELECT length(audio) FROM corrections").fetchone()[0]
        described["correction"] = {**made["correction"], "n_audio_bytes": correction_audio}
    described.update(library={"root": LIBRARY_ROOT, "tracks": tracks}, classifications=classifications, audio=audio)
    if release.embeddings:
        described["embeddings"] = {i: {"space": s, "dim": n} for i, s, n in connection.execute(
            "SELECT classification_id, space, dim FROM track_embeddings")}
    described["tables"] = counts
    connection.close()
    return described


def main(argv: list[str] | None = None) -> int:
    """Make ``release-<sha>.sqlite`` and its JSON in the output folder; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("out", type=Path, help="output folder")
    args = parser.parse_args(argv)
    import genrekit

    source = Path(genrekit.__file__).resolve().parents[2]
    head = subprocess.run(["git", "-C", str(source), "rev-parse", "--short=7", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    if head not in RELEASES:
        print(f"run this against one of the releases {', '.join(RELEASES)}, not {head}", file=sys.stderr)
        return 2
    release = RELEASES[head]
    db_path = args.out / f"release-{head}.sqlite"
    db_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        db_url = f"sqlite:///{work_dir / 'genrekit.sqlite'}"
        made = fill_through_the_app(release, db_url, work_dir / "data")
        scan_a_library(db_url, work_dir / "library")
        finish(work_dir / "genrekit.sqlite", work_dir / "library")
        db_path.write_bytes((work_dir / "genrekit.sqlite").read_bytes())
    description = describe(db_path, made, head, release)
    (args.out / f"release-{head}.json").write_text(json.dumps(description, indent=2, sort_keys=True) + "\n")
    print(f"{db_path}: {db_path.stat().st_size} bytes, tables {description['tables']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
