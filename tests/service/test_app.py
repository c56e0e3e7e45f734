"""Models, probes, metrics, docs, the web UI route, and the problem type pages."""

from __future__ import annotations

import re
import time
from pathlib import Path

from fastapi.testclient import TestClient

from genrekit.service import create_app
from genrekit.service.pages import WEB_STATIC_DIR
from tests.service.conftest import FAKE_LABELS, FakeClassifier, assert_problem, make_settings, make_wav, upload


def test_models_describes_the_loaded_card(client: TestClient) -> None:
    body = client.get("/api/v1/models").json()
    assert body == {
        "data": [
            {
                "name": "fake-genres",
                "version": "1.0",
                "model_type": "fake",
                "labels": FAKE_LABELS,
                "sample_rate": 16000,
                "window_s": 1.0,
                "metrics": {"accuracy": {"value": 0.5, "data": "none (fake)"}},
                "limitations": ["fake model for tests"],
                "tags": ["guitar", "calm"],
            }
        ],
        "champion": None,
        "versions": [],
        "history": [],
    }


def test_config_tells_the_limits_and_whether_audio_is_kept(client: TestClient, tmp_path: Path) -> None:
    kept = {"audio_max_file_bytes": 100 * 1024 * 1024, "audio_max_total_bytes": 2048 * 1024 * 1024, "audio_max_age_days": 30.0}
    assert client.get("/api/v1/config").json() == {
        "keep_audio": True,  # local mode keeps audio by default
        "max_upload_mb": 100.0,
        "max_upload_bytes": 100 * 1024 * 1024,
        "max_duration_s": 1200.0,
        **kept,
    }
    settings = make_settings(
        tmp_path / "other", deployment="deployed", max_upload_mb=2.5, max_duration_s=None, model=tmp_path / "no-bundle"
    )
    with TestClient(create_app(settings)) as other:  # the model fails to load: the config is still there
        assert other.get("/api/v1/config").json() == {
            "keep_audio": False,  # deployed mode keeps audio only when configured
            "max_upload_mb": 2.5,
            "max_upload_bytes": 2621440,
            "max_duration_s": None,
            **kept,
        }
    settings = make_settings(tmp_path / "small", max_upload_mb=0.01)
    with TestClient(create_app(settings, classifier=FakeClassifier())) as small:
        limit = small.get("/api/v1/config").json()["max_upload_bytes"]
        assert limit == 10485
        raw = {"Content-Type": "application/octet-stream"}
        assert_problem(small.post("/api/v1/classify", content=b"x" * limit, headers=raw), 415)  # accepted, not audio
        assert_problem(small.post("/api/v1/classify", content=b"x" * (limit + 1), headers=raw), 413)


def test_probes(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"model": "ok", "database": "ok"}}


def test_readyz_is_503_when_the_database_is_gone(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    state = app.state.genrekit
    state.engine.dispose()
    state.engine = create_broken_engine()
    body = assert_problem(client.get("/readyz"), 503, "not-ready")
    assert "database" in body["detail"]


def create_broken_engine():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine("sqlite:////nonexistent-dir/for/genrekit/db.sqlite")


def test_metrics_count_requests_and_jobs(client: TestClient) -> None:
    upload(client, make_wav(0.5, seed=1))
    upload(client, make_wav(0.5, seed=1))
    client.get("/api/v1/classifications/missing")
    text = client.get("/metrics").text
    assert re.search(r'genrekit_http_requests_total\{method="POST",route="/api/v1/classify",status="200"\} 2\.0', text)
    assert re.search(
        r'genrekit_http_requests_total\{method="GET",route="/api/v1/classifications/\{classification_id\}",status="404"\} 1\.0',
        text,
    )
    assert 'genrekit_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/api/v1/classify"}' in text
    assert "genrekit_inference_duration_seconds_count 1.0" in text
    assert 'genrekit_classifications_total{outcome="cached"} 1.0' in text
    # The gauges return to zero once the background steps after each answer (waveform,
    # spectrogram) are done: on a loaded machine they may still run when the answer arrives.
    deadline = time.monotonic() + 30.0
    while not ("genrekit_job_queue_depth 0.0" in text and "genrekit_jobs_in_flight 0.0" in text):
        assert "genrekit_job_queue_depth" in text and "genrekit_jobs_in_flight" in text
        assert time.monotonic() < deadline, "background jobs did not finish within 30 s"
        time.sleep(0.2)
        text = client.get("/metrics").text


def test_openapi_and_offline_docs(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {
        "/api/v1/classify",
        "/api/v1/classifications",
        "/api/v1/classifications/{classification_id}/visuals",
        "/api/v1/models",
        "/api/v1/config",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= set(schema["paths"])
    assert {"Problem", "ClassifyUrlRequest", "ClassificationPublic", "ConfigPublic"} <= set(schema["components"]["schemas"])
    audio = schema["paths"]["/api/v1/classifications/{classification_id}/audio"]["get"]
    assert {"200", "206", "404", "416"} <= set(audio["responses"])
    assert "Content-Range" in audio["responses"]["206"]["headers"]
    assert {p["name"] for p in audio["parameters"] if p["in"] == "header"} == {"Range", "If-Range"}
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower() and "http" not in re.sub(r"https?://(www\.)?w3\.org[^\"']*", "", docs.text)
    scripts = re.findall(r'src="([^"]+)"', docs.text) + re.findall(r'href="([^"]+\.css)"', docs.text)
    assert scripts, docs.text
    for asset in scripts:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 1000, asset
    assert client.get("/redoc").status_code == 200


def test_root_serves_the_web_ui_or_a_pointer(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    if (WEB_STATIC_DIR / "index.html").is_file():
        assert page.text == (WEB_STATIC_DIR / "index.html").read_text(encoding="utf-8")
    else:
        assert "/docs" in page.text


def test_problem_types_resolve(client: TestClient) -> None:
    body = assert_problem(upload(client, b"plain text, not audio" * 5), 415, "not-audio")
    page = client.get(body["type"])
    assert page.status_code == 200 and "Not audio" in page.text
    assert_problem(client.get("/problems/unknown-slug"), 404)


def test_method_not_allowed_is_a_problem(client: TestClient) -> None:
    assert_problem(client.delete("/api/v1/classify"), 405)


def test_app_is_not_built_at_import_and_settings_come_from_env(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import genrekit.service.main as main

    assert not any(isinstance(v, type(create_app(make_settings(tmp_path)))) for v in vars(main).values())
    monkeypatch.setenv("GENREKIT_MAX_QUEUE", "7")
    monkeypatch.setenv("GENREKIT_DATABASE_URL", f"sqlite:///{tmp_path / 'env.sqlite'}")
    app = create_app(classifier=FakeClassifier())
    assert app.state.genrekit.settings.max_queue == 7
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
    assert (tmp_path / "env.sqlite").is_file()


def test_settings_validate_and_accept_no_duration_limit(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pytest
    from pydantic import ValidationError

    from genrekit.service import Settings

    monkeypatch.setenv("GENREKIT_MAX_DURATION_S", "none")
    assert Settings().max_duration_s is None
    monkeypatch.setenv("GENREKIT_MAX_DURATION_S", "90")
    assert Settings().max_duration_s == 90.0
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path}/genrekit.sqlite"
    assert settings.max_upload_bytes == 100 * 1024 * 1024 and settings.keeps_audio is True
    assert Settings(data_dir=tmp_path, deployment="deployed").keeps_audio is False
    assert Settings(data_dir=tmp_path, deployment="deployed", keep_audio=True).keeps_audio is True
    assert settings.allow_private_urls is False and settings.rate_limit_per_minute == 0
    with pytest.raises(ValidationError):
        Settings(no_such_setting=1)
    with pytest.raises(ValidationError):
        Settings(max_concurrent_jobs=0)
