"""The fast parts of the two-node Ray scan kill (``ray_scan_kill_and_rerun``; the case itself
takes over a minute and runs under ``make reliability``): the exactly-once count finds a
missing file and a duplicated one, the case is skipped with a reason without Ray, and the
cluster's stop only picks processes that name its own folders or port."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "deploy" / "local"))

from faultcases import RayCluster, _exactly_once, ray_scan_kill_and_rerun  # noqa: E402


def _db(tmp_path: Path, paths: list[str]) -> str:
    url = f"sqlite:///{tmp_path / 'scan.db'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE library_tracks (path TEXT, status TEXT)"))
        for path in paths:
            conn.execute(sqlalchemy.text("INSERT INTO library_tracks VALUES (:p, 'ok')"), {"p": path})
    engine.dispose()
    return url


def test_exactly_once_finds_missing_and_duplicated_files(tmp_path: Path) -> None:
    files = [tmp_path / f"{name}.flac" for name in "abc"]
    for file in files:
        file.write_bytes(b"x")
    a, b, _ = (str(f.resolve()) for f in files)
    counts = _exactly_once(files, _db(tmp_path, [a, b, b]))
    assert counts == {"rows": 3, "stored_ok": 3, "files_stored_exactly_once": 1, "files_missing": 1, "paths_stored_twice": 1}


def test_skipped_with_a_reason_without_ray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    report = ray_scan_kill_and_rerun(tmp_path, tmp_path / "ray")
    assert set(report) == {"skipped"} and "Ray not installed" in report["skipped"]
    assert not (tmp_path / "ray").exists()


def test_cluster_stop_leaves_other_processes_alone(tmp_path: Path) -> None:
    pytest.importorskip("psutil")
    mine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(tmp_path / "ray-head")])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "ray-head"])
    try:
        assert RayCluster(tmp_path, {}).stop(grace_s=5) == 1
        assert mine.wait(timeout=10) is not None
        assert other.poll() is None
    finally:
        for proc in (mine, other):
            proc.kill()
            proc.wait()
