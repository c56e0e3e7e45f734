"""nginx in front of genrekit: the config passes ``nginx -t``, its upload limit is the app's,
and the compose stack's shape runs on loopback: nginx in front of a real ``genrekit serve``
(bundled model, key mode, PostgreSQL) answers an upload (gzip, caching, security headers and
the hidden metrics checked on the way)."""

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
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy

from genrekit.service import Settings
from genrekit.service.intake.uploads import MULTIPART_OVERHEAD_BYTES
from tests.conftest import REPO_ROOT
from tests.deploy.conftest import (
    free_port,
    multipart_upload,
    proxy_limits,
    song_wav,
    wait_for_http,
    write_nginx_config,
)
from tests.service.postgres import PostgresUnavailable, running_postgres

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


@dataclass
class Stack:
    """The compose stack's shape on loopback: nginx in front of ``genrekit serve`` in key mode."""

    url: str  # nginx's
    key: str  # an admin key
    database_url: str  # PostgreSQL where a server could be started, else SQLite

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **extra}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """nginx + ``genrekit serve`` (bundled model, key mode, deployed) + PostgreSQL where a server
    can be started (SQLite otherwise), set up as compose.yaml sets them up."""
    if NGINX is None:
        pytest.skip("nginx is not installed (scripts/test-setup.sh installs Debian's nginx as root)")
    tmp = tmp_path_factory.mktemp("nginx-front")
    with ExitStack() as cleanup:
        try:
            database_url = cleanup.enter_context(running_postgres("genrekit_stack"))
        except PostgresUnavailable:
            database_url = f"sqlite:///{tmp / 'genrekit.sqlite'}"
        app_port, proxy_port = free_port(), free_port()
        app_env = {"GENREKIT_MAX_UPLOAD_MB": str(UPLOAD_LIMIT_MB), "GENREKIT_JOB_TIMEOUT_S": "120"}
        env = {
            **os.environ,
            **app_env,
            "GENREKIT_DATABASE_URL": database_url,
            "GENREKIT_REQUIRE_KEYS": "1",
            "GENREKIT_DEPLOYMENT": "deployed",
            "GENREKIT_DATA_DIR": str(tmp / "data"),
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)]),
        }
        genrekit = [sys.executable, "-m", "genrekit"]
        key = subprocess.run(
            [*genrekit, "keys", "create", "--role", "admin"], env=env, capture_output=True, text=True, check=True, timeout=120
        ).stdout.strip()
        app_log = cleanup.enter_context((tmp / "serve.log").open("w"))
        serve = [*genrekit, "serve", "--host", "127.0.0.1", "--port", str(app_port), "--workers-jobs", "1"]
        app = subprocess.Popen(serve, env=env, stdout=app_log, stderr=subprocess.STDOUT)
        cleanup.callback(_stop, app)
        config = write_nginx_config(tmp, upstream=f"127.0.0.1:{app_port}", listen_port=proxy_port, app_env=app_env)
        nginx = subprocess.Popen([str(NGINX), "-c", str(config), "-g", "daemon off;"], stderr=subprocess.PIPE)
        cleanup.callback(_stop, nginx)
        try:
            wait_for_http(f"http://127.0.0.1:{app_port}/readyz", SERVE_READY_TIMEOUT_S, app)
            wait_for_http(f"http://127.0.0.1:{proxy_port}/healthz", 30, nginx)
        except (RuntimeError, TimeoutError) as error:
            raise RuntimeError(f"{error}\n--- genrekit serve log ---\n{(tmp / 'serve.log').read_text()[-3000:]}") from error
        yield Stack(f"http://127.0.0.1:{proxy_port}", key, database_url)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.slow
def test_upload_through_nginx_is_classified(stack: Stack) -> None:
    body, content_type = multipart_upload("through-nginx.wav", song_wav(8.0))
    response = _request(f"{stack.url}/api/v1/classify", data=body, headers=stack.headers(**{"Content-Type": content_type}))
    assert response.status == 200, response.read()[:500]
    result = json.loads(response.read())
    assert result["name"] == "through-nginx.wav"
    assert result["genres"] and abs(sum(g["score"] for g in result["genres"]) - 1.0) < 1e-3
    assert response.headers.get_all("X-Content-Type-Options") == ["nosniff"]
    assert response.headers.get_all("X-Frame-Options") == ["DENY"]
    assert response.headers.get_all("Referrer-Policy") == ["no-referrer"]


@pytest.mark.slow
def test_nginx_refuses_what_the_app_would_refuse(stack: Stack) -> None:
    too_big = b"\0" * int((UPLOAD_LIMIT_MB + 0.5) * 1024 * 1024)
    body, content_type = multipart_upload("too-big.wav", too_big)
    response = _request(f"{stack.url}/api/v1/classify", data=body, headers=stack.headers(**{"Content-Type": content_type}))
    assert response.status == 413
    assert response.headers.get_all("X-Frame-Options") == ["DENY"]
    # nginx's own problem document (its limit in bytes, not the app's MiB): refused before reaching the app
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = json.loads(response.read())
    assert problem["type"] == "/problems/payload-too-large" and problem["status"] == 413
    assert problem["instance"] == "/api/v1/classify" and "bytes" in problem["detail"]


@pytest.mark.slow
def test_static_assets_are_gzipped_and_cacheable(stack: Stack) -> None:
    response = _request(f"{stack.url}/static/js/main.js", headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"function" in gzip.decompress(response.read())
    assert response.headers["Cache-Control"] == "max-age=3600"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.slow
def test_metrics_are_not_published_through_the_proxy(stack: Stack) -> None:
    assert _request(f"{stack.url}/metrics").status == 404
    assert _request(f"{stack.url}/readyz").status == 200


@pytest.mark.slow
def test_key_mode_holds_behind_the_proxy(stack: Stack) -> None:
    body, content_type = multipart_upload("no-key.wav", song_wav(1.0))
    assert _request(f"{stack.url}/api/v1/classify", data=body, headers={"Content-Type": content_type}).status == 401
    history = _request(f"{stack.url}/api/v1/classifications", headers=stack.headers())
    assert history.status == 200


@pytest.mark.slow
def test_the_stack_stores_in_postgresql(stack: Stack) -> None:
    if not stack.database_url.startswith("postgresql"):
        pytest.skip("no PostgreSQL server could be started here (apt-get install postgresql): the stack ran on SQLite")
    engine = sqlalchemy.create_engine(stack.database_url)
    count = sqlalchemy.text("SELECT count(*) FROM classifications")
    try:
        with engine.connect() as connection:
            before = connection.execute(count).scalar_one()
        body, content_type = multipart_upload("stored.wav", song_wav(3.0, freq_hz=330.0))
        headers = stack.headers(**{"Content-Type": content_type})
        assert _request(f"{stack.url}/api/v1/classify", data=body, headers=headers).status == 200
        with engine.connect() as connection:
            assert connection.execute(count).scalar_one() == before + 1
    finally:
        engine.dispose()
