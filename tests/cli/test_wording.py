"""Counts are worded in the singular for one ("1 file found", "blues: 1 track"), help texts print
as written, and a body that is not JSON is named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrekit.catalog.scan import ScanSummary
from genrekit.cli.main import main


def test_scan_summary_says_one_file() -> None:
    assert ScanSummary(n_found=1, n_classified=1).lines()[0].startswith("1 file found: 1 classified")
    assert ScanSummary(n_found=2).lines()[0].startswith("2 files found")


def test_explain_help_prints_percent_signs_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    out = capsys.readouterr().out
    assert "10 %" in out and "%%" not in out


def test_export_playlists_count_one_track_in_the_singular(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from genrekit.catalog import export

    monkeypatch.setattr(export, "write_playlists", lambda tracks, out: {"blues": 1, "rock": 3})
    assert main(["export", "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "--format", "m3u", "--out", f"{tmp_path}/lists/"]) == 0
    err = capsys.readouterr().err
    assert "blues: 1 track\n" in err and "rock: 3 tracks\n" in err


def test_a_body_that_is_not_json_is_named_in_the_problem(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from genrekit.service import create_app
    from tests.service.conftest import FakeClassifier, make_settings

    with TestClient(create_app(make_settings(tmp_path), classifier=FakeClassifier())) as client:
        response = client.post("/api/v1/classify/url", content=b"{bad", headers={"content-type": "application/json"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("request body: ") and "JSON" in detail, detail
