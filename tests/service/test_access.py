"""Access control: API keys and roles, private results, share links, per-key rate limits,
security headers and CORS, and ``genrekit serve`` refusing a public interface without keys.

Every route of the app is enumerated from ``app.routes``, so a route added later is tried
without a key, with a wrong key and with another key's ids automatically; only the routes
in :data:`PUBLIC_ROUTES` may answer without a key.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from genrekit.cli.main import main as cli_main
from genrekit.service import create_app
from genrekit.service.access import keys
from genrekit.service.access.control import is_loopback_host
from tests.service.conftest import FakeClassifier, assert_problem, make_settings, make_wav, upload

# Routes anyone may call in key mode (path templates as in app.routes), and mounted folders.
PUBLIC_ROUTES = {
    "/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/problems/{slug}",
    "/api/v1/shared/{token}",
    "/api/v1/shared/{token}/visuals",
    "/api/v1/shared/{token}/audio",
}
PUBLIC_MOUNTS = {"/static", "/docs-assets"}
SECRET_NAME = "alice-private-song.wav"


@dataclass
class World:
    client: TestClient
    app: FastAPI
    read_a: str
    read_b: str
    editor: str
    admin: str
    revoked: str
    a_id: str
    a_key_id: str
    share_token: str


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _make_key(app: FastAPI, role: str, **kwargs: Any) -> tuple[str, str]:
    with app.state.genrekit.new_session() as session:
        info, secret = keys.create_key(session, role=role, **kwargs)
    return info.id, secret


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    app = create_app(make_settings(tmp_path, require_keys=True, keep_audio=True), classifier=FakeClassifier())
    with TestClient(app) as client:
        a_key_id, read_a = _make_key(app, "read", name="alice")
        _, read_b = _make_key(app, "read", name="bob")
        _, editor = _make_key(app, "editor")
        _, admin = _make_key(app, "admin")
        revoked_id, revoked = _make_key(app, "admin")
        with app.state.genrekit.new_session() as session:
            keys.revoke_key(session, key_id=revoked_id)
        response = client.post(
            "/api/v1/classify", files={"file": (SECRET_NAME, make_wav(2.0, seed=7), "audio/wav")}, headers=auth(read_a)
        )
        assert response.status_code == 200, response.text
        a_id = response.json()["id"]
        share = client.post(f"/api/v1/classifications/{a_id}/share", headers=auth(read_a))
        assert share.status_code == 200, share.text
        yield World(client, app, read_a, read_b, editor, admin, revoked, a_id, a_key_id, share.json()["token"])


def _concrete(path: str, world: World) -> str:
    """The path template with every parameter filled: classification ids and key ids are alice's."""
    values = {"classification_id": world.a_id, "key_id": world.a_key_id, "token": world.share_token, "slug": "not-found"}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return values.get(name, world.a_id)

    return re.sub(r"\{([^}]+)\}", fill, path)


def flat_routes(app: FastAPI) -> list[Any]:
    """Every route of the app, included routers flattened (newer FastAPI keeps them nested)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route answering HTTP methods."""
    found = []
    for route in flat_routes(app):
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                found.append((method, route.path))
    return found


def _protected(app: FastAPI) -> list[tuple[str, str]]:
    return [(m, p) for m, p in _routes(app) if p not in PUBLIC_ROUTES]


def test_every_route_is_public_on_purpose_or_protected(world: World) -> None:
    paths = {p for _, p in _routes(world.app)}
    assert "/api/v1/classify" in paths and "/api/v1/classifications/{classification_id}" in paths
    assert len(_protected(world.app)) >= 10
    mounts = {r.path for r in flat_routes(world.app) if isinstance(getattr(r, "original_route", r), Mount)}
    assert mounts <= PUBLIC_MOUNTS, f"a mounted app is not in the allow-list: {mounts - PUBLIC_MOUNTS}"


@pytest.mark.parametrize("credentials", ["none", "wrong", "revoked", "malformed"])
def test_every_protected_route_refuses_a_missing_or_bad_key(world: World, credentials: str) -> None:
    headers = {
        "none": {},
        "wrong": auth("gk_" + "x" * 43),
        "revoked": auth(world.revoked),
        "malformed": {"Authorization": f"Basic {world.admin}"},
    }[credentials]
    for method, path in _protected(world.app):
        response = world.client.request(method, _concrete(path, world), headers=headers)
        body = assert_problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), (method, path)
        assert world.admin not in response.text and world.revoked not in response.text
        assert "x" * 43 not in body["detail"]


def test_no_route_shows_another_keys_results(world: World) -> None:
    """Bob (a read key) calls every route with alice's ids: nothing of hers comes back."""
    for method, path in _protected(world.app):
        response = world.client.request(method, _concrete(path, world), headers=auth(world.read_b))
        ok = 200 <= response.status_code < 300
        assert not (ok and "{classification_id}" in path), (method, path, response.text)
        assert not (ok and world.a_id in response.text), (method, path)  # errors may echo the id asked for
        assert SECRET_NAME not in response.text, (method, path)
    # the same bytes uploaded by bob give bob his own result, not alice's stored one
    again = world.client.post(
        "/api/v1/classify", files={"file": ("b.wav", make_wav(2.0, seed=7), "audio/wav")}, headers=auth(world.read_b)
    )
    assert again.status_code == 200 and again.json()["id"] != world.a_id and again.json()["cached"] is False
    history = world.client.get("/api/v1/classifications", headers=auth(world.read_b)).json()["data"]
    assert [row["id"] for row in history] == [again.json()["id"]]


def test_the_owner_sees_its_results_and_audio(world: World) -> None:
    client, headers = world.client, auth(world.read_a)
    assert client.get(f"/api/v1/classifications/{world.a_id}", headers=headers).json()["filename"] == SECRET_NAME
    assert [r["id"] for r in client.get("/api/v1/classifications", headers=headers).json()["data"]] == [world.a_id]
    assert client.get(f"/api/v1/classifications/{world.a_id}/visuals", headers=headers).status_code == 200
    assert client.get(f"/api/v1/classifications/{world.a_id}/audio", headers=headers).content[:4] == b"RIFF"


def test_a_share_link_opens_without_a_key_until_unshared(world: World) -> None:
    client = world.client
    shared = client.get(f"/api/v1/shared/{world.share_token}")
    assert shared.status_code == 200 and shared.json()["id"] == world.a_id
    assert client.get(f"/api/v1/shared/{world.share_token}/visuals").status_code == 200
    assert client.get(f"/api/v1/shared/{world.share_token}/audio").content[:4] == b"RIFF"
    assert_problem(client.get("/api/v1/shared/" + "A" * 43), 404, "not-found")
    assert_problem(client.delete(f"/api/v1/classifications/{world.a_id}/share", headers=auth(world.read_b)), 404)
    assert client.delete(f"/api/v1/classifications/{world.a_id}/share", headers=auth(world.read_a)).status_code == 204
    assert_problem(client.get(f"/api/v1/shared/{world.share_token}"), 404, "not-found")


def test_roles_gate_key_management(world: World) -> None:
    client = world.client
    for key in (world.read_a, world.editor):
        assert_problem(client.get("/api/v1/keys", headers=auth(key)), 403, "forbidden")
        assert_problem(client.post("/api/v1/keys", json={"role": "admin"}, headers=auth(key)), 403, "forbidden")
    created = client.post("/api/v1/keys", json={"role": "read", "name": "ci"}, headers=auth(world.admin))
    assert created.status_code == 201
    new_key = created.json()["key"]
    listed = client.get("/api/v1/keys", headers=auth(world.admin))
    assert created.json()["id"] in listed.text and new_key not in listed.text and "key_hash" not in listed.text
    assert client.get("/api/v1/classifications", headers=auth(new_key)).status_code == 200
    assert client.delete(f"/api/v1/keys/{created.json()['id']}", headers=auth(world.admin)).status_code == 200
    assert_problem(client.get("/api/v1/classifications", headers=auth(new_key)), 401, "unauthorized")


def test_rate_limits_are_counted_per_key(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, require_keys=True, rate_limit_per_minute=100), classifier=FakeClassifier())
    with TestClient(app) as client:
        _, slow = _make_key(app, "read", rate_limit_per_minute=2)
        _, other = _make_key(app, "read")
        wav = make_wav(1.0)
        codes = [client.post("/api/v1/classify", content=wav, headers={**auth(slow), "Content-Type": "audio/wav"}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert client.post("/api/v1/classify", content=wav, headers={**auth(other), "Content-Type": "audio/wav"}).status_code == 200


def test_security_headers_and_cors(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, require_keys=True, cors_origins="https://good.example")
    with TestClient(create_app(settings, classifier=FakeClassifier())) as client:
        for response in (client.get("/"), client.get("/healthz"), client.get("/api/v1/config")):
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
            assert "script-src 'self';" in response.headers["Content-Security-Policy"]
        preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
        good = client.options("/api/v1/classify", headers={"Origin": "https://good.example", **preflight})
        assert good.status_code == 200 and good.headers["access-control-allow-origin"] == "https://good.example"
        evil = client.options("/api/v1/classify", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in evil.headers
        assert "access-control-allow-origin" not in client.get("/healthz", headers={"Origin": "https://evil.example"}).headers


def test_open_mode_needs_no_key_and_keeps_one_history(client: TestClient) -> None:
    response = upload(client, make_wav(1.0))
    assert response.status_code == 200
    assert [r["id"] for r in client.get("/api/v1/classifications").json()["data"]] == [response.json()["id"]]
    assert client.get("/api/v1/keys").status_code == 200


def test_keys_are_never_logged(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for key in (world.read_a, world.admin, "gk_" + "y" * 43):
        world.client.get("/api/v1/classifications", headers=auth(key))
        world.client.get("/api/v1/nope", headers=auth(key))
    assert not any(secret in caplog.text for secret in (world.read_a, world.admin, "y" * 43))


def test_only_hashes_are_stored(world: World) -> None:
    database = Path(world.app.state.genrekit.settings.resolved_database_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert world.read_a.encode() not in raw and world.admin.encode() not in raw
    assert keys.hash_secret(world.read_a).encode() in raw


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False)],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_serve_refuses_a_public_interface_without_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from genrekit.cli.serve import _access_settings

    url = f"sqlite:///{tmp_path / 'serve.sqlite'}"
    monkeypatch.setenv("GENREKIT_DATABASE_URL", url)
    monkeypatch.setenv("GENREKIT_DATA_DIR", str(tmp_path))
    assert cli_main(["serve", "--host", "0.0.0.0", "--port", "8999"]) == 2
    assert "API keys are required" in capsys.readouterr().err
    settings = make_settings(tmp_path, database_url=url)
    assert _access_settings(settings, host="0.0.0.0", insecure=True) == (settings, None)
    assert _access_settings(settings, host="127.0.0.1", insecure=False) == (settings, None)
    assert cli_main(["keys", "create", "--role", "admin", "--name", "ops"]) == 0
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("gk_")
    keyed, refusal = _access_settings(settings, host="0.0.0.0", insecure=False)
    assert refusal is None and keyed.require_keys
    assert cli_main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert "ops" in listing and secret not in listing
    key_id = listing.splitlines()[1].split()[0]
    assert cli_main(["keys", "revoke", key_id]) == 0
    _, refusal = _access_settings(settings, host="0.0.0.0", insecure=False)
    assert refusal is not None
    # an explicit GENREKIT_REQUIRE_KEYS=1 starts in key mode before the first key exists (bootstrap)
    explicit = make_settings(tmp_path, database_url=url, require_keys=True)
    keyed, refusal = _access_settings(explicit, host="0.0.0.0", insecure=False)
    assert refusal is None and keyed.require_keys
    assert "no API key exists yet" in capsys.readouterr().err
