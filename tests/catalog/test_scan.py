"""``genrekit scan`` on a generated library: results and failures stored, resumable (kill -9
included), model changes make tracks stale, content already known is not classified again,
and the service shows scanned tracks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from genrekit.cli.main import main
from genrekit.store.tables import Classification, LibraryTrack
from tests.catalog.library import AUDIO_TRACKS, BROKEN_TRACKS
from tests.predict.test_classifier import TINY_LABELS

REPO_ROOT = Path(__file__).resolve().parents[2]


def scan(capsys: pytest.CaptureFixture[str], library: Path, db_url: str, bundle: str, *extra: str) -> tuple[int, str, str]:
    code = main(["scan", str(library), "--db", db_url, "--model", bundle, "--workers", "1", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def tracks(db_url: str) -> dict[str, LibraryTrack]:
    engine = create_engine(db_url)
    with Session(engine) as session:
        rows = {Path(t.path).name: t for t in session.scalars(select(LibraryTrack))}
    engine.dispose()
    return rows


def test_scan_stores_results_and_failures_and_prints_a_summary(capsys, library: Path, db_url: str, tiny_bundle: str) -> None:
    code, out, err = scan(capsys, library, db_url, tiny_bundle)
    assert code == 1  # broken files failed
    rows = tracks(db_url)
    assert set(rows) == {Path(t).name for t in (*AUDIO_TRACKS, *BROKEN_TRACKS)} | {"dangling.wav"}
    for rel in AUDIO_TRACKS:
        row = rows[Path(rel).name]
        assert row.status == "ok", (rel, row.error)
        assert row.top_genre in TINY_LABELS and row.classification_id
        assert row.size_bytes == (library / rel).stat().st_size
        assert row.mtime_ns == (library / rel).stat().st_mtime_ns
        assert len(row.sha256) == 64 and row.duration_s == pytest.approx(2.5, abs=0.1)
        assert (row.model_name, row.model_version) == ("tiny-test", "0.0.1")
    assert rows["broken.mp3"].status == "error" and "decode" in rows["broken.mp3"].error
    assert rows["empty.flac"].status == "error" and "empty" in rows["empty.flac"].error
    assert rows["dangling.wav"].status == "error" and "broken symbolic link" in rows["dangling.wav"].error
    # each failure is printed once, with its path once and a plain reason
    broken_lines = [line for line in err.splitlines() if "broken.mp3" in line]
    assert len(broken_lines) == 1 and broken_lines[0].count("broken.mp3") == 1
    assert f"{len(AUDIO_TRACKS) + 3} files found: {len(AUDIO_TRACKS)} classified" in out
    assert "3 failed" in out and "songs/s" in out and "library by genre:" in out


def test_rerun_does_nothing_and_changed_files_are_redone(capsys, library: Path, db_url: str, tiny_bundle: str) -> None:
    scan(capsys, library, db_url, tiny_bundle)
    before = tracks(db_url)
    code, out, _ = scan(capsys, library, db_url, tiny_bundle)
    assert code == 0, out  # failures of unchanged files are not retried
    assert f"0 classified, 0 already known by content, {len(AUDIO_TRACKS)} unchanged" in out
    assert "3 failed before and unchanged" in out
    # touched but identical: the hash says unchanged; edited: classified again
    os.utime(library / "a.wav", ns=(1_000_000_000, 1_000_000_000))
    shutil.copyfile(library / "Artist/Album/b.flac", library / "Various/e.mp3")
    code, out, _ = scan(capsys, library, db_url, tiny_bundle)
    after = tracks(db_url)
    assert after["a.wav"].mtime_ns == 1_000_000_000
    assert after["a.wav"].classification_id == before["a.wav"].classification_id
    assert after["e.mp3"].sha256 == before["b.flac"].sha256  # a copy: linked to the known result
    assert after["e.mp3"].classification_id == before["b.flac"].classification_id
    assert "0 classified, 1 already known by content" in out


def test_model_change_makes_tracks_stale_until_rescan_stale(
    capsys, library: Path, db_url: str, tiny_bundle: str, tiny_bundle_v2: str
) -> None:
    scan(capsys, library, db_url, tiny_bundle)
    code, out, _ = scan(capsys, library, db_url, tiny_bundle_v2)
    assert f"{len(AUDIO_TRACKS)} stale" in out and "0 classified" in out
    assert {r.model_version for r in tracks(db_url).values() if r.status == "ok"} == {"0.0.1"}
    code, out, _ = scan(capsys, library, db_url, tiny_bundle_v2, "--rescan-stale")
    assert f"{len(AUDIO_TRACKS)} classified" in out
    assert {r.model_version for r in tracks(db_url).values() if r.status == "ok"} == {"0.0.2"}


def test_service_history_and_permalinks_show_scanned_tracks(capsys, library: Path, db_url: str, tiny_bundle: str) -> None:
    from genrekit.service import Settings, create_app

    scan(capsys, library, db_url, tiny_bundle)
    row = tracks(db_url)["b.flac"]
    app = create_app(Settings(database_url=db_url, model=Path(tiny_bundle)))
    with TestClient(app) as client:
        history = client.get("/api/v1/classifications", params={"limit": 100}).json()["data"]
        assert row.classification_id in {item["id"] for item in history}
        page = client.get(f"/api/v1/classifications/{row.classification_id}")
        assert page.status_code == 200
        body = page.json()
        assert body["filename"] == "b.flac" and body["sha256"] == row.sha256
        assert body["genres"][0]["genre"] == row.top_genre and body["segments"]


def _count_ok(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        with Session(engine) as session:
            return int(session.scalar(select(func.count()).select_from(LibraryTrack).where(LibraryTrack.status == "ok")))
    except Exception:  # noqa: BLE001 - the table may not exist yet
        return 0
    finally:
        engine.dispose()


SLOW_SCAN = """
import sys, time
import tests.predict.test_classifier as tc
original = tc.TinyModel.predict_proba_windows
def slow(self, windows):
    time.sleep(0.4)
    return original(self, windows)
tc.TinyModel.predict_proba_windows = slow
from genrekit.cli.main import main
if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_scan_resumes_after_kill_9_without_losing_or_redoing_work(tmp_path: Path, library: Path, db_url: str, tiny_bundle: str) -> None:
    for index in range(8):  # more songs, so the kill lands mid-run
        shutil.copyfile(library / "a.wav", library / f"copy{index}.wav")
        with open(library / f"copy{index}.wav", "ab") as handle:
            handle.write(bytes([index]) * 2)  # different content, same audio
    script = tmp_path / "slow_scan.py"
    script.write_text(SLOW_SCAN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])}
    command = [sys.executable, str(script), "scan", str(library), "--db", db_url, "--model", tiny_bundle, "--workers", "1"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _count_ok(db_url) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stored = {name: row.classification_id for name, row in tracks(db_url).items() if row.status == "ok"}
    assert 3 <= len(stored) < len(AUDIO_TRACKS) + 8, "the kill did not land mid-run"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    after = tracks(db_url)
    ok = {name: row for name, row in after.items() if row.status == "ok"}
    assert len(ok) == len(AUDIO_TRACKS) + 8, done.stdout + done.stderr
    assert all(ok[name].classification_id == cid for name, cid in stored.items())  # nothing stored was redone
    assert f"{len(AUDIO_TRACKS) + 8 - len(stored)} classified" in done.stdout
    with Session(create_engine(db_url)) as session:
        n_classifications = session.scalar(select(func.count()).select_from(Classification))
    assert n_classifications == len({row.sha256 for row in ok.values()})


@pytest.mark.postgres
def test_scan_into_postgresql(capsys, library: Path, tiny_bundle: str, request: pytest.FixtureRequest) -> None:
    from sqlalchemy import text

    from genrekit.store.tables import Base
    url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    code, out, _ = scan(capsys, library, url, tiny_bundle)
    assert f"{len(AUDIO_TRACKS)} classified" in out and "3 failed" in out
    code, out, _ = scan(capsys, library, url, tiny_bundle)
    assert f"{len(AUDIO_TRACKS)} unchanged" in out
    rows = tracks(url)
    assert {Path(t).name for t in AUDIO_TRACKS} <= {name for name, row in rows.items() if row.status == "ok"}
