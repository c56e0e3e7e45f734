"""GET /api/v1/classifications[/{id}[/visuals|/audio]]: permalinks, history, visuals, audio."""

from __future__ import annotations

import base64
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from genrekit.service import create_app
from tests.service.conftest import FAKE_LABELS, FakeClassifier, assert_problem, make_settings, make_wav, upload


def test_permalink_returns_the_stored_result(client: TestClient) -> None:
    created = upload(client, make_wav(1.0)).json()
    response = client.get(f"/api/v1/classifications/{created['id']}")
    assert response.status_code == 200
    stored = response.json()
    assert stored["cached"] is True
    assert {k: v for k, v in stored.items() if k != "cached"} == {k: v for k, v in created.items() if k != "cached"}


def test_unknown_id_is_404_problem(client: TestClient) -> None:
    for path in ("/api/v1/classifications/nope", "/api/v1/classifications/nope/visuals", "/no/such/route"):
        assert_problem(client.get(path), 404)


def test_history_is_newest_first_paginated_and_filterable(client: TestClient) -> None:
    durations = [1.0, 2.0, 3.0, 1.2, 2.2]  # top genres: classical, rock, blues, classical, rock
    ids = [upload(client, make_wav(d, seed=i)).json()["id"] for i, d in enumerate(durations)]
    page1 = client.get("/api/v1/classifications", params={"limit": 2}).json()
    assert [item["id"] for item in page1["data"]] == ids[::-1][:2]
    page2 = client.get("/api/v1/classifications", params={"limit": 2, "cursor": page1["next_cursor"]}).json()
    page3 = client.get("/api/v1/classifications", params={"limit": 2, "cursor": page2["next_cursor"]}).json()
    assert [item["id"] for item in page2["data"] + page3["data"]] == ids[::-1][2:]
    assert page3["next_cursor"] is None
    item = page1["data"][0]
    assert set(item) == {
        "id",
        "created_at",
        "sha256",
        "filename",
        "duration_s",
        "model",
        "top_genre",
        "top_score",
        "genres",
        "warnings",
        "uncertainty",
        "complete",
    }
    assert item["top_genre"] == item["genres"][0]["genre"] == FAKE_LABELS[round(durations[-1]) % 3]
    rock = client.get("/api/v1/classifications", params={"genre": "rock"}).json()
    assert [i["id"] for i in rock["data"]] == [ids[4], ids[1]]
    assert client.get("/api/v1/classifications", params={"genre": "jazz"}).json() == {"data": [], "next_cursor": None}


def test_bad_history_parameters_are_problems(client: TestClient) -> None:
    assert_problem(client.get("/api/v1/classifications", params={"cursor": "not-a-cursor"}), 400, "bad-request")
    for limit in (0, 101, "many"):
        body = assert_problem(client.get("/api/v1/classifications", params={"limit": limit}), 422, "validation-error")
        assert body["errors"][0]["loc"] == ["query", "limit"]


def test_visuals_are_stored_with_the_classification(client: TestClient) -> None:
    created = upload(client, make_wav(4.0, freq_hz=1000.0)).json()
    visuals = client.get(f"/api/v1/classifications/{created['id']}/visuals").json()
    assert abs(visuals["duration_s"] - 4.0) < 1e-3
    peaks = np.array(visuals["peaks"])
    assert peaks.size == 1000 and peaks.min() >= 0 and peaks.max() <= 1
    assert abs(np.median(peaks) - 0.5) < 0.05  # a 0.5-amplitude sine
    mel = visuals["mel"]
    assert mel["n_mels"] == 64 and 1 <= mel["n_frames"] <= 400
    pixels = np.frombuffer(base64.b64decode(mel["data"]), dtype=np.uint8).reshape(mel["n_mels"], mel["n_frames"])
    assert (mel["db_min"], mel["db_max"]) == (-80.0, 0.0)  # fixed: 0 dB is a full-scale sine
    assert -9.0 <= mel["db_min"] + pixels.max() / 255 * 80.0 <= -4.0  # a 0.5-amplitude sine: about -6 dB
    brightest_band = int(np.argmax(pixels.mean(axis=1)))
    # 1 kHz is 15 Slaney mels; 64 bands from 0 to 8 kHz (45.2 mels) put it in band ~20.9.
    assert brightest_band in (20, 21)


def test_a_deployed_server_keeps_no_audio_unless_configured(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, deployment="deployed")
    with TestClient(create_app(settings, classifier=FakeClassifier())) as client:
        created = upload(client, make_wav(0.5)).json()
        assert created["has_audio"] is False
        assert_problem(client.get(f"/api/v1/classifications/{created['id']}/audio"), 404, "not-found")


def test_audio_is_returned_when_kept(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, keep_audio=True), classifier=FakeClassifier())) as client:
        data = make_wav(0.5, seed=42)
        created = upload(client, data).json()
        response = client.get(f"/api/v1/classifications/{created['id']}/audio")
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"] == "audio/wav"
        assert response.headers["accept-ranges"] == "bytes"
        assert response.headers["content-length"] == str(len(data))
        assert response.headers["etag"] == f'"{created["sha256"]}"'
        assert "content-range" not in response.headers
        assert_problem(client.get("/api/v1/classifications/unknown/audio"), 404)
        assert_problem(client.get("/api/v1/classifications/unknown/audio", headers={"Range": "bytes=0-"}), 404)


Kept = tuple[TestClient, str, bytes]


@pytest.fixture
def kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kept]:
    """A client of a server that keeps audio, the id and bytes of one stored upload (read 1000 bytes at a time)."""
    from genrekit.service.answers import stored_audio

    monkeypatch.setattr(stored_audio, "CHUNK_BYTES", 1000)
    with TestClient(create_app(make_settings(tmp_path, keep_audio=True), classifier=FakeClassifier())) as client:
        data = make_wav(0.5, seed=43)
        created = upload(client, data).json()
        yield client, f"/api/v1/classifications/{created['id']}/audio", data


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=1500-", 1500, None), ("bytes=-2345", -2345, None), ("bytes=999-3001", 999, 3001)],
)
def test_audio_byte_ranges_are_206(kept: Kept, header: str, first: int, last: int | None) -> None:
    client, url, data = kept
    response = client.get(url, headers={"Range": header})
    assert response.status_code == 206
    expected = data[first : None if last is None else last + 1]
    assert response.content == expected
    start = first % len(data)
    assert response.headers["content-range"] == f"bytes {start}-{start + len(expected) - 1}/{len(data)}"
    assert response.headers["content-length"] == str(len(expected))
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "audio/wav"


def test_audio_ranges_past_the_end_are_416_and_others_get_everything(kept: Kept) -> None:
    client, url, data = kept
    for header in (f"bytes={len(data)}-", f"bytes={len(data) + 10}-{len(data) + 20}", "bytes=-0"):
        response = client.get(url, headers={"Range": header})
        assert_problem(response, 416, "range-not-satisfiable")
        assert response.headers["content-range"] == f"bytes */{len(data)}"
    for header in ("bytes=0-9,20-29", "pages=1-2", "bytes=oops"):
        response = client.get(url, headers={"Range": header})
        assert response.status_code == 200 and response.content == data


def test_audio_if_range_serves_the_range_only_for_the_current_etag(kept: Kept) -> None:
    client, url, data = kept
    etag = client.get(url, headers={"Range": "bytes=0-0"}).headers["etag"]
    same = client.get(url, headers={"Range": "bytes=10-19", "If-Range": etag})
    assert same.status_code == 206 and same.content == data[10:20]
    changed = client.get(url, headers={"Range": "bytes=10-19", "If-Range": '"something-else"'})
    assert changed.status_code == 200 and changed.content == data


def test_no_temporary_files_are_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: TestClient
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    assert upload(client, make_wav(0.5, seed=77)).status_code == 200
    assert upload(client, b"not audio at all" * 10).status_code == 415
    assert upload(client, make_wav(0.5, seed=77)).status_code == 200  # cached
    # The waveform/spectrogram job owns a link to the upload until it ends, after the answer.
    deadline = time.monotonic() + 60.0
    while list(spool.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(spool.iterdir()) == []
