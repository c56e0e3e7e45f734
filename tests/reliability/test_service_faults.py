"""The service's answers to the faults the reliability runs found (fast, in process, SQLite):
a database outage is a 503 problem (never a 500), a full disk for uploads is a 507 with
nothing stored, and hostile upload names are stored cleaned (never a 500 for a NUL)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import exc as sa_exc

from genrekit.service import create_app
from genrekit.service.access import control as access_module
from genrekit.service.access import keys
from genrekit.service.intake import uploads as uploads_module
from genrekit.service.intake.uploads import MAX_NAME_CHARS, clean_filename
from genrekit.store import queries
from tests.service.conftest import FakeClassifier, assert_problem, make_settings, make_wav, upload


def _outage() -> sa_exc.OperationalError:
    return sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[tuple[TestClient, FastAPI, dict[str, str]]]:
    app = create_app(make_settings(tmp_path, require_keys=True), classifier=FakeClassifier())
    with TestClient(app) as client:
        with app.state.genrekit.new_session() as session:
            _, secret = keys.create_key(session, role="admin")
        yield client, app, {"Authorization": f"Bearer {secret}"}


def test_database_outage_during_key_lookup_is_a_503(keyed, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _, headers = keyed
    monkeypatch.setattr(access_module, "_lookup", lambda state, token: (_ for _ in ()).throw(_outage()))
    body = assert_problem(client.get("/api/v1/classifications", headers=headers), 503, "database-unavailable")
    assert "connection refused" not in body["detail"]
    assert client.get("/api/v1/classifications", headers=headers).headers["Retry-After"] == "5"
    assert client.get("/healthz", headers=headers).status_code == 200


def test_database_outage_inside_a_route_is_a_503_and_passes(keyed, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _, headers = keyed
    real = queries.list_classifications

    def failing(*args, **kwargs):
        raise _outage()

    monkeypatch.setattr(queries, "list_classifications", failing)
    assert_problem(client.get("/api/v1/classifications", headers=headers), 503, "database-unavailable")
    monkeypatch.setattr(queries, "list_classifications", real)
    assert client.get("/api/v1/classifications", headers=headers).status_code == 200


def test_a_wrong_statement_stays_a_500(keyed, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _, headers = keyed

    def failing(*args, **kwargs):
        raise sa_exc.IntegrityError("INSERT", {}, ValueError("duplicate key"))

    monkeypatch.setattr(queries, "list_classifications", failing)
    assert_problem(client.get("/api/v1/classifications", headers=headers), 500, "internal-error")


def test_full_upload_disk_is_a_507_with_nothing_stored(
    tmp_path: Path, keyed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every spooled upload writes into /dev/full (ENOSPC), under a real temporary name."""
    client, _, headers = keyed
    spool = tmp_path / "spool"
    spool.mkdir()
    real_mkstemp = tempfile.mkstemp

    def mkstemp_on_full_disk(prefix: str = "", suffix: str = "", **_: object) -> tuple[int, str]:
        fd, name = real_mkstemp(prefix=prefix, suffix=suffix, dir=spool)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), name

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    monkeypatch.setattr(uploads_module.tempfile, "mkstemp", mkstemp_on_full_disk)
    response = client.post(
        "/api/v1/classify", files={"file": ("big.wav", make_wav(20.0), "audio/wav")}, headers=headers
    )
    body = assert_problem(response, 507, "storage-full")
    assert "nothing was stored" in body["detail"]
    assert list(spool.iterdir()) == []
    monkeypatch.undo()
    assert client.get("/api/v1/classifications", headers=headers).json()["data"] == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("a\x00b.wav", "ab.wav"),
        ("\x1b[31mred\x07.mp3", "[31mred.mp3"),
        ("..", None),
        ("\x00\x01", None),
        ("", None),
    ],
)
def test_clean_filename(raw: str, expected: str | None) -> None:
    assert clean_filename(raw) == expected


def test_clean_filename_keeps_the_extension_of_a_long_name() -> None:
    cleaned = clean_filename("x" * 1000 + ".flac")
    assert cleaned is not None and len(cleaned) == MAX_NAME_CHARS and cleaned.endswith(".flac")


def test_nul_and_control_characters_in_an_upload_name_are_stored_cleaned(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path), classifier=FakeClassifier())
    with TestClient(app) as client:
        body = (
            b'--BB\r\nContent-Disposition: form-data; name="file"; filename="../a\x00b\x01' + b"y" * 1000 + b'.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n" + make_wav(1.0) + b"\r\n--BB--\r\n"
        )
        response = client.post(
            "/api/v1/classify", content=body, headers={"Content-Type": "multipart/form-data; boundary=BB"}
        )
        assert response.status_code == 200, response.text
        name = response.json()["name"]
        assert name.startswith("abyyy") and name.endswith(".wav") and len(name) == MAX_NAME_CHARS
        raw = client.post("/api/v1/classify/raw?filename=c%00d.wav", content=make_wav(1.5), headers={"Content-Type": "audio/wav"})
        assert raw.status_code == 200, raw.text
        assert raw.json()["name"] == "cd.wav"
        assert upload(client, make_wav(1.2), filename="\x7f.wav").json()["name"] == ".wav"
