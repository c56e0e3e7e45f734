"""Classifying links: direct downloads from a local HTTP server, yt-dlp pages (resolver
injected), and the SSRF guard. Every connection attempt is checked to stay on loopback."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpcore
import pytest
from fastapi.testclient import TestClient

from genrekit.service import create_app
from genrekit.service.errors import PayloadTooLargeError, UrlFetchError, UrlRefusedError
from genrekit.service.intake import fetch
from tests.service.conftest import FakeClassifier, assert_problem, make_settings, make_wav

SONG = make_wav(1.0, seed=2024)


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _send(
        self, status: int, body: bytes = b"", content_type: str = "application/octet-stream", **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        port = self.server.server_address[1]
        routes = {
            "/song.wav": lambda: self._send(200, SONG, "audio/wav"),
            "/stream": lambda: self._send(200, SONG, "application/octet-stream"),
            "/page.html": lambda: self._send(200, b"<!doctype html><html><body>hi</body></html>" * 5, "text/html"),
            "/redirect": lambda: self._send(302, Location="/song.wav"),
            "/redirect-private": lambda: self._send(302, Location=f"http://127.0.0.2:{port}/song.wav"),
            "/redirect-ftp": lambda: self._send(302, Location="ftp://127.0.0.1/song.wav"),
            "/loop": lambda: self._send(302, Location="/loop"),
            "/missing": lambda: self._send(404, b"no"),
            "/big.wav": lambda: self._send(200, make_wav(5.0), "audio/wav"),
        }
        routes.get(self.path, lambda: self._send(404))()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def only_loopback_connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail loudly if the fetcher ever tries to connect anywhere but 127.0.0.1."""
    attempts: list[str] = []
    original = httpcore.AnyIOBackend.connect_tcp

    async def guarded(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        attempts.append(host)
        if host != "127.0.0.1":
            raise RuntimeError(f"test safety: connection attempted to {host}")
        return await original(self, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", guarded)
    return attempts


@pytest.fixture
def open_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, allow_private_urls=True, url_max_mb=0.1)
    with TestClient(create_app(settings, classifier=FakeClassifier())) as client:
        yield client


@pytest.fixture
def guarded_client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path), classifier=FakeClassifier())) as client:
        yield client


def classify_url(client: TestClient, url: Any) -> Any:
    return client.post("/api/v1/classify", json={"url": url})


def test_direct_link_is_downloaded_classified_and_deduplicated(open_client: TestClient, server: str) -> None:
    response = classify_url(open_client, f"{server}/song.wav")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["filename"] == "song.wav" and body["name"] == f"{server}/song.wav"
    assert abs(body["duration_s"] - 1.0) < 1e-3
    again = classify_url(open_client, f"{server}/redirect").json()  # same bytes via a redirect
    assert again["cached"] is True and again["id"] == body["id"]
    assert classify_url(open_client, f"{server}/stream").json()["cached"] is True


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/song.wav",
        "http://10.0.0.1/song.wav",
        "http://192.168.1.10/song.wav",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/song.wav",
        "http://[::ffff:127.0.0.1]:{port}/song.wav",
        "http://localhost:{port}/song.wav",
        "http://0.0.0.0:{port}/song.wav",
        "https://100.64.0.1/song.wav",
    ],
)
def test_private_addresses_are_refused_by_default(
    guarded_client: TestClient, server: str, url: str, only_loopback_connections: list[str]
) -> None:
    port = server.rsplit(":", 1)[1]
    body = assert_problem(classify_url(guarded_client, url.format(port=port)), 400, "url-refused")
    assert "address" in body["detail"]
    assert only_loopback_connections == []  # refused before any connection


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/song.wav", "file:///etc/passwd", "javascript:alert(1)", "song.wav", "http://"]
)
def test_non_http_urls_are_refused(guarded_client: TestClient, url: str) -> None:
    assert_problem(classify_url(guarded_client, url), 400, "url-refused")


@pytest.mark.parametrize("payload", [{}, {"url": 5}, {"url": ""}, {"url": "http://a/b", "extra": 1}, [1]])
def test_malformed_json_bodies_are_422(guarded_client: TestClient, payload: Any) -> None:
    body = assert_problem(guarded_client.post("/api/v1/classify", json=payload), 422, "validation-error")
    assert body["errors"]
    assert_problem(
        guarded_client.post("/api/v1/classify", content=b"{not json", headers={"Content-Type": "application/json"}), 422
    )


def test_remote_failures_map_to_problems(open_client: TestClient, server: str) -> None:
    assert_problem(classify_url(open_client, f"{server}/missing"), 502, "url-fetch-failed")
    loop = assert_problem(classify_url(open_client, f"{server}/loop"), 502, "url-fetch-failed")
    assert "redirects" in loop["detail"]
    assert_problem(classify_url(open_client, f"{server}/redirect-ftp"), 400, "url-refused")
    assert_problem(classify_url(open_client, f"{server}/page.html"), 415, "not-audio")
    assert_problem(classify_url(open_client, f"{server}/big.wav"), 413, "payload-too-large")


def test_every_redirect_hop_is_checked(server: str, only_loopback_connections: list[str]) -> None:
    only_first = lambda ip: str(ip) == "127.0.0.1"  # noqa: E731
    ok = asyncio.run(fetch.fetch_url(f"{server}/redirect", policy=only_first, max_bytes=10**6, timeout_s=10))
    try:
        assert ok.path.read_bytes() == SONG and ok.filename == "redirect"
    finally:
        ok.discard()
    with pytest.raises(UrlRefusedError, match="127.0.0.2"):
        asyncio.run(fetch.fetch_url(f"{server}/redirect-private", policy=only_first, max_bytes=10**6, timeout_s=10))
    assert "127.0.0.2" not in only_loopback_connections
    with pytest.raises(PayloadTooLargeError):
        asyncio.run(fetch.fetch_url(f"{server}/song.wav", policy=only_first, max_bytes=1000, timeout_s=10))


def test_download_time_is_bounded(server: str) -> None:
    started = time.perf_counter()
    with pytest.raises(Exception) as info:
        asyncio.run(fetch.fetch_url(f"{server}/song.wav", policy=lambda ip: True, max_bytes=10**6, timeout_s=1e-4))
    assert time.perf_counter() - started < 5
    assert getattr(info.value, "status", None) == 504


def test_pages_go_through_yt_dlp(open_client: TestClient, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def fake_extract(url: str, *, timeout_s: float, max_bytes: int) -> fetch.MediaLink:
        seen.append(url)
        return fetch.MediaLink(url=f"{server}/stream", headers={"X-Test": "1"}, title="A Song Title")

    monkeypatch.setattr(fetch, "ytdlp_handles", lambda url: url.endswith("/watch"))
    monkeypatch.setattr(fetch, "ytdlp_extract", fake_extract)
    response = classify_url(open_client, f"{server}/watch")
    assert response.status_code == 200, response.text
    assert response.json()["filename"] == "A Song Title"
    assert seen == [f"{server}/watch"]


def test_yt_dlp_claims_video_sites_but_not_direct_files() -> None:
    assert fetch.ytdlp_handles("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    assert fetch.ytdlp_handles("https://soundcloud.com/artist/track")
    assert not fetch.ytdlp_handles("https://example.org/music/song.mp3")
    assert not fetch.ytdlp_handles("https://example.org/some/page")


def test_address_policy() -> None:
    import ipaddress

    public = ["8.8.8.8", "2001:4860:4860::8888", "93.184.216.34"]
    private = [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
    ]
    assert all(fetch.is_public_address(ipaddress.ip_address(a)) for a in public)
    assert not any(fetch.is_public_address(ipaddress.ip_address(a)) for a in private)


def test_unresolvable_host_is_a_fetch_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    async def no_dns(self: Any, host: str, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", no_dns)
    with pytest.raises(UrlFetchError, match="cannot resolve"):
        asyncio.run(fetch.resolve_checked("no-such-host.example", 80, fetch.is_public_address))
