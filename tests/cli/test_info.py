"""``genrekit info`` names the one database every command defaults to; ``similar`` uses it without ``--db``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genrekit.cli.main import main


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("GENREKIT_DATABASE_URL", raising=False)
    monkeypatch.delenv("GENREKIT_DATA_DIR", raising=False)
    monkeypatch.delenv("GENREKIT_MODEL", raising=False)
    return tmp_path


def test_info_names_the_default_database_model_and_versions(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["database"] == f"sqlite:///{(data_home / 'genrekit' / 'genrekit.sqlite').as_posix()}"
    assert info["database_from"] == "default" and info["data_dir"] == str(data_home / "genrekit")
    assert info["model"]["model_type"] == "musicnn_head" and len(info["model"]["labels"]) == 10
    assert "onnxruntime" in info["packages"] and info["genrekit"]
    assert main(["info"]) == 0
    table = capsys.readouterr().out
    assert "genrekit.sqlite" in table and "--db or GENREKIT_DATABASE_URL" in table


def test_info_hides_a_database_password(data_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GENREKIT_DATABASE_URL", "postgresql+psycopg://me:s3cret@db.example/genrekit")
    assert main(["info", "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "s3cret" not in info["database"] and info["database_from"] == "GENREKIT_DATABASE_URL"


def test_similar_defaults_to_the_shared_database(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["similar", "no-such-id"]) == 1
    assert "no such file, nor a stored classification id" in capsys.readouterr().err
    assert (data_home / "genrekit" / "genrekit.sqlite").is_file()  # the same file scan, export and serve use
