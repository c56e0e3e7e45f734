"""A typed client generated from ``/openapi.json`` by openapi-python-client works against the app:
upload, read back, page through history, fetch the audio, and get problem+json errors."""

from __future__ import annotations

import importlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from genrekit.service import create_app
from tests.service.conftest import FakeClassifier, make_settings, make_wav

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR_VENV = REPO_ROOT / ".cache" / "openapi-client"  # made by scripts/test-setup.sh
PACKAGE = "genrekit_generated_client"


def _generator() -> Path:
    found = os.environ.get("GENREKIT_OPENAPI_CLIENT_GENERATOR") or str(GENERATOR_VENV / "bin" / "openapi-python-client")
    if not Path(found).is_file():
        pytest.skip(f"openapi-python-client not found at {found}: scripts/test-setup.sh installs it into {GENERATOR_VENV}")
    return Path(found)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, TestClient]]:
    """The generated package, and a running app (its TestClient is the generated client's HTTP client)."""
    generator = _generator()
    root = tmp_path_factory.mktemp("generated-client")
    app = create_app(make_settings(root, keep_audio=True), classifier=FakeClassifier())
    (root / "openapi.json").write_text(json.dumps(app.openapi()))
    env = {**os.environ, "PATH": f"{generator.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run(
        [str(generator), "generate", "--path", "openapi.json", "--output-path", PACKAGE, "--meta", "none"],
        cwd=root, capture_output=True, text=True, timeout=300, env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Unable to" not in run.stdout and "Unsupported" not in run.stdout, run.stdout  # every operation generated
    sys.path.insert(0, str(root))
    try:
        with TestClient(app) as http:
            yield importlib.import_module(PACKAGE), http
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        shutil.rmtree(root, ignore_errors=True)


def test_the_generated_client_uploads_reads_pages_and_gets_problems(generated: tuple[Any, TestClient]) -> None:
    package, http = generated
    api = importlib.import_module(f"{PACKAGE}.api.classify.classify")
    raw_api = importlib.import_module(f"{PACKAGE}.api.classify.classify_raw")
    get_api = importlib.import_module(f"{PACKAGE}.api.classifications.get_classification")
    list_api = importlib.import_module(f"{PACKAGE}.api.classifications.list_classifications")
    audio_api = importlib.import_module(f"{PACKAGE}.api.classifications.get_audio")
    delete_api = importlib.import_module(f"{PACKAGE}.api.classifications.delete_classification")
    models = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")
    client = package.Client(base_url="http://testserver", raise_on_unexpected_status=True)
    client.set_httpx_client(http)

    song = make_wav(2.0, seed=77)
    response = api.sync_detailed(client=client, body=models.ClassifyBody(file=types.File(payload=io.BytesIO(song), file_name="song.wav")))
    created = response.parsed
    assert isinstance(created, models.ClassificationPublic), response.content
    assert created.filename == "song.wav" and created.genres[0].genre in FakeClassifier.labels
    assert created.timeline.state.value == "complete" and created.has_audio is True
    assert response.headers["Content-Location"] == f"/api/v1/classifications/{created.id}"

    again = get_api.sync(classification_id=created.id, client=client)
    assert isinstance(again, models.ClassificationPublic) and again.id == created.id and again.cached is True

    for seed in (1, 2, 3):
        named = raw_api.sync(client=client, body=types.File(payload=io.BytesIO(make_wav(1.0, seed=seed))), filename=f"raw-{seed}.wav")
        assert isinstance(named, models.ClassificationPublic) and named.filename == f"raw-{seed}.wav"
    seen: list[str] = []
    cursor: Any = types.UNSET
    while True:
        page = list_api.sync(client=client, limit=2, cursor=cursor)
        assert isinstance(page, models.ClassificationsPublic)
        seen += [item.id for item in page.data]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 4 and seen[-1] == created.id

    audio = audio_api.sync(classification_id=created.id, client=client)
    assert isinstance(audio, types.File) and audio.payload.read() == song

    missing = get_api.sync(classification_id="nope", client=client)
    assert isinstance(missing, models.Problem) and missing.status == 404 and missing.type_ == "/problems/not-found"
    text = raw_api.sync(client=client, body=types.File(payload=io.BytesIO(b"just some text\n" * 10)))
    assert isinstance(text, models.Problem) and text.status == 415 and "it looks like text" in text.detail

    assert delete_api.sync_detailed(classification_id=created.id, client=client).status_code == 204
    assert isinstance(get_api.sync(classification_id=created.id, client=client), models.Problem)
