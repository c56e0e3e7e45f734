"""nginx in front of genrekit: the config passes ``nginx -t``, its upload limit is the app's,
and a real ``genrekit serve`` answers an upload through it (gzip, caching and security headers
checked on the way)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from genrekit.service import Settings
from genrekit.service.uploads import MULTIPART_OVERHEAD_BYTES
from tests.conftest import REPO_ROOT
from tests.deploy.conftest import (
    free_port,
    multipart_upload,
    proxy_limits,
    song_wav,
    wait_for_http,
    write_nginx_config,
)

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).is_file()), None)
needs_nginx = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (scripts/test-setup.sh installs Debian's nginx as root)"
)
UPLOAD_LIMIT_MB = 1.0  # the app's limit in the end-to-end test (MiB), small to test refusals cheaply
SERVE_READY_TIMEOUT_S = 180.0  # loading the bundled model on a busy machine


def _nginx_test(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(NGINX), "-t", "-c", str(config)], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("max_upload_mb", ["100", "2.5", "0.25"])
def test_proxy_body_limit_is_the_apps(max_upload_mb: str) -> None:
    limits = proxy_limits({"GENREKIT_MAX_UPLOAD_MB": max_upload_mb, "GENREKIT_JOB_TIMEOUT_S": "45.5"})
    app_body_limit = Settings(max_upload_mb=float(max_upload_mb)).max_upload_bytes + MULTIPART_OVERHEAD_BYTES
    assert int(limits["GENREKIT_PROXY_BODY_BYTES"]) == app_body_limit
    assert int(limits["GENREKIT_PROXY_TIMEOUT_S"]) == 76


def test_proxy_limits_default_to_the_apps_defaults() -> None:
    limits = proxy_limits({})
    defaults = Settings()
    assert int(limits["GENREKIT_PROXY_BODY_BYTES"]) == defaults.max_upload_bytes + MULTIPART_OVERHEAD_BYTES
    assert int(limits["GENREKIT_PROXY_TIMEOUT_S"]) >= defaults.job_timeout_s


@needs_nginx
def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    config = write_nginx_config(tmp_path, upstream="127.0.0.1:8000", listen_port=free_port(), app_env={})
    result = _nginx_test(config)
    assert result.returncode == 0, result.stderr
    assert "client_max_body_size 104923136;" in (tmp_path / "genrekit.conf").read_text()


@needs_nginx
def test_nginx_rejects_a_broken_config(tmp_path: Path) -> None:
    config = write_nginx_config(tmp_path, upstream="127.0.0.1:8000", listen_port=free_port(), app_env={})
    server_block = tmp_path / "genrekit.conf"
    server_block.write_text(server_block.read_text().replace("gzip on;", "gzip maybe;"))
    assert _nginx_test(config).returncode != 0


def _request(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        return urllib.request.urlopen(request, timeout=120)
    except urllib.error.HTTPError as error:
        return error


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``genrekit serve`` (bundled model, SQLite) behind nginx on loopback; yields nginx's URL."""
    if NGINX is None:
        pytest.skip("nginx is not installed (scripts/test-setup.sh installs Debian's nginx as root)")
    tmp = tmp_path_factory.mktemp("nginx-front")
    app_port, proxy_port = free_port(), free_port()
    app_env = {"GENREKIT_MAX_UPLOAD_MB": str(UPLOAD_LIMIT_MB), "GENREKIT_JOB_TIMEOUT_S": "120"}
    env = {
        **os.environ,
        **app_env,
        "GENREKIT_DATA_DIR": str(tmp / "data"),
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)]),
    }
    env.pop("GENREKIT_DATABASE_URL", None)
    app_log = (tmp / "serve.log").open("w")
    app = subprocess.Popen(
        [sys.executable, "-m", "genrekit", "serve", "--host", "127.0.0.1", "--port", str(app_port), "--workers-jobs", "1"],
        env=env,
        stdout=app_log,
        stderr=subprocess.STDOUT,
    )
    config = write_nginx_config(tmp, upstream=f"127.0.0.1:{app_port}", listen_port=proxy_port, app_env=app_env)
    nginx = subprocess.Popen([str(NGINX), "-c", str(config), "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        wait_for_http(f"http://127.0.0.1:{app_port}/readyz", SERVE_READY_TIMEOUT_S, app)
        wait_for_http(f"http://127.0.0.1:{proxy_port}/healthz", 30, nginx)
        yield f"http://127.0.0.1:{proxy_port}"
    except (RuntimeError, TimeoutError) as error:
        raise RuntimeError(f"{error}\n--- genrekit serve log ---\n{(tmp / 'serve.log').read_text()[-3000:]}") from error
    finally:
        for process in (nginx, app):
            process.terminate()
        for process in (nginx, app):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        app_log.close()


@pytest.mark.slow
def test_upload_through_nginx_is_classified(proxied: str) -> None:
    body, content_type = multipart_upload("through-nginx.wav", song_wav(8.0))
    response = _request(f"{proxied}/api/v1/classify", data=body, headers={"Content-Type": content_type})
    assert response.status == 200, response.read()[:500]
    result = json.loads(response.read())
    assert result["name"] == "through-nginx.wav"
    assert result["genres"] and abs(sum(g["score"] for g in result["genres"]) - 1.0) < 1e-3
    assert response.headers.get_all("X-Content-Type-Options") == ["nosniff"]
    assert response.headers.get_all("X-Frame-Options") == ["DENY"]
    assert response.headers.get_all("Referrer-Policy") == ["no-referrer"]


@pytest.mark.slow
def test_nginx_refuses_what_the_app_would_refuse(proxied: str) -> None:
    too_big = b"\0" * int((UPLOAD_LIMIT_MB + 0.5) * 1024 * 1024)
    body, content_type = multipart_upload("too-big.wav", too_big)
    response = _request(f"{proxied}/api/v1/classify", data=body, headers={"Content-Type": content_type})
    assert response.status == 413
    assert response.headers.get_all("X-Frame-Options") == ["DENY"]
    # nginx's own page, not the app's problem document: refused before reaching the app
    assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.slow
def test_static_assets_are_gzipped_and_cacheable(proxied: str) -> None:
    response = _request(f"{proxied}/static/js/main.js", headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"function" in gzip.decompress(response.read())
    assert response.headers["Cache-Control"] == "max-age=3600"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.slow
def test_metrics_are_not_published_through_the_proxy(proxied: str) -> None:
    assert _request(f"{proxied}/metrics").status == 404
    assert _request(f"{proxied}/readyz").status == 200
