"""16 simultaneous uploads to a real uvicorn server on loopback, all answered correctly."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from genrekit.service import create_app
from tests.service.conftest import FAKE_LABELS, FakeClassifier, make_settings, make_wav


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.mark.slow
def test_sixteen_simultaneous_uploads(tmp_path: Path) -> None:
    classifier = FakeClassifier(delay_s=0.05)
    settings = make_settings(tmp_path, max_concurrent_jobs=2, max_queue=16)
    durations = [1.0 + (i % 3) for i in range(16)]  # top genre = FAKE_LABELS[round(d) % 3]
    clips = [make_wav(d, seed=i) for i, d in enumerate(durations)]
    barrier = threading.Barrier(16)
    with (
        serving(create_app(settings, classifier=classifier)) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):

        def send(i: int) -> httpx.Response:
            barrier.wait()
            return client.post("/api/v1/classify", files={"file": (f"clip{i}.wav", clips[i], "audio/wav")})

        with ThreadPoolExecutor(16) as pool:
            responses = list(pool.map(send, range(16)))
        assert [r.status_code for r in responses] == [200] * 16, [r.text for r in responses if r.status_code != 200]
        bodies = [r.json() for r in responses]
        for i, body in enumerate(bodies):
            assert body["filename"] == f"clip{i}.wav"
            assert abs(body["duration_s"] - durations[i]) < 1e-3
            assert body["genres"][0]["genre"] == FAKE_LABELS[round(durations[i]) % 3]
            assert body["cached"] is False
        assert len({b["id"] for b in bodies}) == 16
        assert classifier.n_calls == 16
        assert classifier.max_running <= 2  # the worker pool bounds concurrent inference
        history = client.get("/api/v1/classifications", params={"limit": 100}).json()
        assert {item["id"] for item in history["data"]} == {b["id"] for b in bodies}
        for body in bodies:  # computed after each answer, on the same pool; a request waits for them
            visuals = client.get(f"/api/v1/classifications/{body['id']}/visuals")
            assert visuals.status_code == 200 and abs(visuals.json()["duration_s"] - body["duration_s"]) < 1e-3
        metrics = client.get("/metrics").text
        assert "genrekit_job_queue_depth 0.0" in metrics


@pytest.mark.slow
def test_identical_concurrent_uploads_run_the_model_once(tmp_path: Path) -> None:
    classifier = FakeClassifier(delay_s=0.3)
    clip = make_wav(1.0, seed=99)
    barrier = threading.Barrier(8)
    with (
        serving(create_app(make_settings(tmp_path), classifier=classifier)) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):

        def send(_: int) -> httpx.Response:
            barrier.wait()
            return client.post("/api/v1/classify", files={"file": ("same.wav", clip, "audio/wav")})

        with ThreadPoolExecutor(8) as pool:
            bodies = [r.json() for r in pool.map(send, range(8))]
    assert len({b["id"] for b in bodies}) == 1
    assert sorted(b["cached"] for b in bodies) == [False] + [True] * 7
    assert classifier.n_calls == 1


def test_oversized_uploads_get_413_over_a_real_socket(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_upload_mb=0.5)
    with (
        serving(create_app(settings, classifier=FakeClassifier())) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        declared = client.post("/api/v1/classify", files={"file": ("big.wav", b"\0" * (3 * 1024 * 1024), "audio/wav")})
        assert declared.status_code == 413

        def chunks():  # no Content-Length: refused while streaming
            for _ in range(48):
                yield b"\0" * 65536

        try:
            streamed = client.post(
                "/api/v1/classify", content=chunks(), headers={"Content-Type": "application/octet-stream"}
            )
            assert streamed.status_code == 413
        except httpx.WriteError:
            pass  # the server may close the connection before the client finishes sending
        assert client.get("/healthz").status_code == 200
