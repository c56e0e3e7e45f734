"""``genrekit serve``: options become settings, bad options are usage errors (exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from genrekit.cli.main import main


def test_serve_builds_the_app_from_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    monkeypatch.setenv("GENREKIT_DATA_DIR", str(tmp_path))
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    code = main(
        ["serve", "--host", "127.0.0.1", "--port", "8123", "--model", str(bundle), "--workers-jobs", "3", "--max-windows", "0"]
    )
    assert code == 0
    (call,) = calls
    assert (call["host"], call["port"]) == ("127.0.0.1", 8123)
    settings = call["app"].state.genrekit.settings
    assert settings.max_concurrent_jobs == 3 and settings.model == bundle and settings.data_dir == tmp_path
    assert settings.max_windows == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "0"],
        ["serve", "--workers-jobs", "0"],
        ["serve", "--model", "/no/such/bundle"],
        ["serve", "--max-windows", "-1"],
    ],
)
def test_bad_options_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "genrekit serve: error" in capsys.readouterr().err
