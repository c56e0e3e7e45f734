"""POST /api/v1/classify: uploads, dedup, and every error status with its problem+json."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient

from genrekit.service import create_app
from tests.service.conftest import FAKE_LABELS, FakeClassifier, assert_problem, make_settings, make_wav, upload


def test_upload_returns_the_shared_result_schema(client: TestClient, fake_classifier: FakeClassifier) -> None:
    response = upload(client, make_wav(2.0), filename="my song.wav")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "created_at",
        "sha256",
        "filename",
        "cached",
        "name",
        "duration_s",
        "model",
        "genres",
        "segments",
        "tags",
        "warnings",
        "uncertainty",
        "complete",
        "tag_groups",
        "timeline",
        "has_audio",
        "embedding",
        "segment_embeddings",
        "shares",
    }
    assert body["cached"] is False
    assert body["filename"] == "my song.wav" and body["name"] == "my song.wav"
    assert abs(body["duration_s"] - 2.0) < 1e-3
    assert body["model"] == {"name": "fake-genres", "version": "1.0"}
    assert [g["genre"] for g in body["genres"]][0] == FAKE_LABELS[2]  # round(2.0) % 3
    assert len(body["segments"]) == 2 and body["segments"][0]["start_s"] == 0.0
    assert body["tags"] == [{"tag": "guitar", "score": 0.6}]
    assert len(body["sha256"]) == 64
    assert response.headers["content-location"] == f"/api/v1/classifications/{body['id']}"
    assert fake_classifier.n_calls == 1


def test_same_bytes_again_are_answered_from_storage(client: TestClient, fake_classifier: FakeClassifier) -> None:
    data = make_wav(1.0, seed=3)
    first = upload(client, data).json()
    second = upload(client, data, filename="renamed.wav").json()
    assert second["cached"] is True
    assert second["id"] == first["id"] and second["sha256"] == first["sha256"]
    assert second["genres"] == first["genres"]
    assert fake_classifier.n_calls == 1
    third = upload(client, make_wav(1.0, seed=4)).json()
    assert third["cached"] is False and third["id"] != first["id"]
    assert fake_classifier.n_calls == 2


def test_a_new_model_version_does_not_reuse_old_results(tmp_path: Path) -> None:
    data = make_wav(1.0, seed=5)
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings, classifier=FakeClassifier(version="1.0"))) as c1:
        first = upload(c1, data).json()
    newer = FakeClassifier(version="2.0")
    with TestClient(create_app(settings, classifier=newer)) as c2:
        second = upload(c2, data).json()
    assert second["cached"] is False and second["id"] != first["id"]
    assert second["model"]["version"] == "2.0" and newer.n_calls == 1


def test_stereo_flac_upload_and_raw_body(client: TestClient) -> None:
    sr = 44100
    t = np.arange(sr * 3) / sr
    stereo = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1) * 0.3
    buffer = io.BytesIO()
    sf.write(buffer, stereo.astype(np.float32), sr, format="FLAC")
    # The extension lies: content decides.
    response = upload(client, buffer.getvalue(), filename="clip.mp3", content_type="audio/mpeg")
    assert response.status_code == 200, response.text
    assert abs(response.json()["duration_s"] - 3.0) < 1e-3
    raw = client.post(
        "/api/v1/classify", content=make_wav(1.0, seed=9), headers={"Content-Type": "application/octet-stream"}
    )
    assert raw.status_code == 200, raw.text
    sha = raw.json()["sha256"]
    assert raw.json()["filename"] == raw.json()["name"] == f"upload-{sha[:8]}"  # a name, not "Untitled"


def test_neither_file_nor_url_is_400(client: TestClient) -> None:
    assert_problem(client.post("/api/v1/classify"), 400, "bad-request")
    other_field = client.post("/api/v1/classify", files={"audio": ("a.wav", make_wav(0.5), "audio/wav")})
    body = assert_problem(other_field, 400, "bad-request")
    assert "'file'" in body["detail"]
    assert_problem(
        client.post("/api/v1/classify", content=b"--x\r\nbroken", headers={"Content-Type": "multipart/form-data"}),
        400,
    )


def test_not_audio_is_415_whatever_the_name(client: TestClient, fake_classifier: FakeClassifier) -> None:
    text = upload(client, b"just some text, not a song\n" * 20, filename="song.mp3", content_type="audio/mpeg")
    assert_problem(text, 415, "not-audio")
    png = upload(client, b"\x89PNG\r\n\x1a\n" + bytes(200), filename="song.wav")
    assert_problem(png, 415, "not-audio")
    body_type = client.post("/api/v1/classify", content=b"x=1", headers={"Content-Type": "text/plain"})
    assert_problem(body_type, 415, "unsupported-body-type")
    assert client.get("/api/v1/classifications").json()["data"] == []  # nothing stored


def test_corrupt_empty_and_too_long_audio_are_422(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_duration_s=3.0)
    with TestClient(create_app(settings, classifier=FakeClassifier())) as client:
        garbage_flac = b"fLaC" + bytes(np.random.default_rng(0).integers(0, 255, 2000, dtype=np.uint8))
        assert_problem(upload(client, garbage_flac), 422, "undecodable-audio")
        cut = assert_problem(upload(client, make_wav(2.0)[:60], filename="cut.wav"), 422, "undecodable-audio")
        assert "cut.wav" in cut["detail"] and "2.00 s its header announces" in cut["detail"]
        assert_problem(upload(client, b""), 422, "empty-audio")
        assert_problem(upload(client, make_wav(5.0)), 422, "audio-too-long")


def test_upload_over_the_limit_is_413_early_and_while_streaming(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_upload_mb=0.05)  # 52 428 bytes
    classifier = FakeClassifier()
    with TestClient(create_app(settings, classifier=classifier)) as client:
        big = make_wav(3.0)  # ~132 kB
        assert_problem(upload(client, big), 413, "payload-too-large")
        declared = client.post(
            "/api/v1/classify",
            content=b"",
            headers={"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(10**10)},
        )
        assert_problem(declared, 413, "payload-too-large")

        def chunks():  # no Content-Length: counted as it streams
            for _ in range(100):
                yield bytes(4096)

        streamed = client.post(
            "/api/v1/classify", content=chunks(), headers={"Content-Type": "application/octet-stream"}
        )
        assert_problem(streamed, 413, "payload-too-large")
        assert upload(client, make_wav(0.5)).status_code == 200
    assert classifier.n_calls == 1


def test_rate_limit_is_429_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rate_limit_per_minute=2)
    with TestClient(create_app(settings, classifier=FakeClassifier())) as client:
        assert upload(client, make_wav(0.5, seed=1)).status_code == 200
        assert upload(client, make_wav(0.5, seed=2)).status_code == 200
        limited = upload(client, make_wav(0.5, seed=3))
        assert_problem(limited, 429, "rate-limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert client.get("/api/v1/classifications").status_code == 200  # reads are not limited


def test_model_that_fails_to_load_gives_503(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model=tmp_path / "no-such-bundle")
    with TestClient(create_app(settings)) as client:
        assert_problem(upload(client, make_wav(0.5)), 503, "model-not-ready")
        assert_problem(client.get("/readyz"), 503, "not-ready")
        assert_problem(client.get("/api/v1/models"), 503, "model-not-ready")
        assert client.get("/healthz").status_code == 200


def test_full_queue_is_503_and_slow_job_is_504(tmp_path: Path) -> None:
    slow = FakeClassifier(delay_s=1.0)
    settings = make_settings(tmp_path, max_concurrent_jobs=1, max_queue=0, job_timeout_s=0.3)
    with TestClient(create_app(settings, classifier=slow)) as client:
        results: dict[str, object] = {}

        def first() -> None:
            results["first"] = upload(client, make_wav(0.5, seed=10))

        thread = threading.Thread(target=first)
        thread.start()
        deadline = 50
        while slow.n_calls == 0 and deadline:
            threading.Event().wait(0.02)
            deadline -= 1
        busy = upload(client, make_wav(0.5, seed=11))
        thread.join()
        body = assert_problem(busy, 503, "overloaded")
        assert "waiting" in body["detail"] and busy.headers["retry-after"] == "5"
        assert_problem(results["first"], 504, "timeout")  # type: ignore[arg-type]
