"""Static checks of the web UI (no browser): assets exist and are served with the right
types, nothing loads from another origin, module imports and element ids resolve."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from genrekit.service import Settings, create_app

STATIC = Path(__file__).resolve().parents[2] / "src" / "genrekit" / "web" / "static"
JS_FILES = sorted((STATIC / "js").glob("*.js"))
PAGE_SCRIPTS = {"catalog.html": "catalog.js"}  # other pages and their entry script (their ids live there)
TEXT_FILES = sorted(p for p in STATIC.rglob("*") if p.suffix in {".html", ".css", ".js", ".svg"})

IMPORT_RE = re.compile(r"""^import\s*\{([^}]*)\}\s*from\s*"([^"]+)";""", re.MULTILINE)
EXPORT_RE = re.compile(r"^export\s+(?:async\s+)?(?:function|class|const|let)\s+([A-Za-z_$][\w$]*)", re.MULTILINE)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.urls: list[str] = []
        self.labelled_for: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.append(str(a["id"]))
        for key in ("src", "href"):
            if a.get(key):
                self.urls.append(str(a[key]))
        if tag == "label" and a.get("for"):
            self.labelled_for.add(str(a["for"]))
        if tag in ("input", "select", "textarea"):
            self.controls.append(a)


@pytest.fixture(scope="module")
def page() -> _Collector:
    collector = _Collector()
    collector.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    return collector


def test_index_references_only_existing_local_assets(page: _Collector) -> None:
    local = [u for u in page.urls if u.startswith("/static/")]
    assert {"/static/js/main.js", "/static/css/app.css"} <= set(local)
    for url in local:
        assert (STATIC / url.removeprefix("/static/")).is_file(), url
    external = [u for u in page.urls if re.match(r"^(https?:)?//", u)]
    assert external == []


@pytest.mark.parametrize("path", TEXT_FILES, ids=lambda p: p.name)
def test_no_asset_loads_from_another_origin(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", text)
    assert not re.search(r"""url\(\s*["']?(?:https?:)?//""", text)
    assert not re.search(r"""(?:from|import)\s*\(?\s*["'](?:https?:)?//""", text)
    assert not re.search(r"""fetch\(\s*["'`](?:https?:)?//""", text)


@pytest.mark.parametrize("path", JS_FILES, ids=lambda p: p.name)
def test_module_imports_resolve_to_exported_names(path: Path) -> None:
    for names, target in IMPORT_RE.findall(path.read_text(encoding="utf-8")):
        module = (path.parent / target).resolve()
        assert target.startswith("./") and module.is_file(), f"{path.name}: {target}"
        exported = set(EXPORT_RE.findall(module.read_text(encoding="utf-8")))
        for name in (n.strip() for n in names.split(",") if n.strip()):
            assert name in exported, f"{path.name} imports {name} that {target} does not export"


def test_every_element_id_used_by_the_scripts_exists_once(page: _Collector) -> None:
    used: set[str] = set()
    for path in JS_FILES:
        if path.name in PAGE_SCRIPTS.values():
            continue
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\$\("([\w-]+)"\)""", text))
        used |= set(re.findall(r"""getElementById\("([\w-]+)"\)""", text))
    assert len(used) > 30
    assert sorted(used - set(page.ids)) == []
    duplicates = sorted({i for i in page.ids if page.ids.count(i) > 1})
    assert duplicates == []


@pytest.mark.parametrize("html_name", sorted(PAGE_SCRIPTS))
def test_other_pages_hold_every_id_their_script_uses(html_name: str) -> None:
    other = _Collector()
    other.feed((STATIC / html_name).read_text(encoding="utf-8"))
    used = set(re.findall(r"""getElementById\("([\w-]+)"\)""", (STATIC / "js" / PAGE_SCRIPTS[html_name]).read_text(encoding="utf-8")))
    assert used and sorted(used - set(other.ids)) == []
    for control in other.controls:
        assert control.get("id") in other.labelled_for or control.get("aria-label") or control.get("name"), control


def test_every_control_has_a_label_and_buttons_have_names(page: _Collector) -> None:
    for control in page.controls:
        labelled = control.get("id") in page.labelled_for or control.get("aria-label")
        assert labelled, f"unlabelled control {control}"
    for tag, attrs in page.tags:
        if tag == "button" and not attrs.get("aria-label"):
            assert attrs.get("id") in {"pick-file", "url-submit", "cancel", "copy-link", "history-more", "nav-history", "queue-cancel", "history-clear"}, attrs
    dropzone = next(a for t, a in page.tags if a.get("id") == "dropzone")
    assert dropzone.get("role") == "button" and dropzone.get("tabindex") == "0"  # named by its visible text
    status = next(a for t, a in page.tags if a.get("id") == "status")
    assert status.get("aria-live") == "polite"


def test_the_service_serves_the_ui_with_module_friendly_types(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'ui.sqlite'}")
    client = TestClient(create_app(settings))  # no lifespan: static pages need no model
    index = client.get("/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert 'src="/static/js/main.js"' in index.text
    for path in JS_FILES:
        response = client.get(f"/static/js/{path.name}")
        assert response.status_code == 200
        assert response.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    css = client.get("/static/css/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_stored_audio_is_streamed_by_url_not_downloaded_whole() -> None:
    api = (STATIC / "js" / "api.js").read_text(encoding="utf-8")
    main = (STATIC / "js" / "main.js").read_text(encoding="utf-8")
    assert "/classifications/${encodeURIComponent(id)}/audio`" in api
    assert "player.load(audioUrl(id)" in main  # the <audio> element seeks with Range requests
    for path in JS_FILES:
        assert ".blob()" not in path.read_text(encoding="utf-8"), path.name


def test_the_ui_reads_only_fields_that_get_config_answers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'ui.sqlite'}", keep_audio=True)
    config = TestClient(create_app(settings)).get("/api/v1/config").json()  # needs no model
    main = (STATIC / "js" / "main.js").read_text(encoding="utf-8")
    used = set(re.findall(r"\bconfig\.(\w+)", main))
    assert {"keep_audio", "max_upload_bytes", "max_duration_s"} <= used <= set(config)
    assert config["keep_audio"] is True


def test_only_api_js_talks_to_the_api_and_nothing_patches_fetch() -> None:
    """api.js owns the API base, the fetch and XHR calls, the key and the result route (#/r/<id>);
    the other modules import them, and no module swaps the browser's fetch or XMLHttpRequest."""
    owned = {
        "API base": re.compile(r"/api/v\d"),
        "fetch call": re.compile(r"\bfetch\("),
        "XMLHttpRequest": re.compile(r"XMLHttpRequest"),
        "key storage": re.compile(r"sessionStorage|localStorage"),
        "result route": re.compile(r"#/r/\$|\\/r\\/"),
    }
    for path in JS_FILES:
        code = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith(("//", "*", "/**")))
        assert not re.search(r"window\.fetch\s*=|XMLHttpRequest\.prototype\.\w+\s*=", code), path.name
        if path.name == "api.js":
            assert all(pattern.search(code) for pattern in owned.values())
            continue
        found = [what for what, pattern in owned.items() if pattern.search(code)]
        assert found == [], f"{path.name} has its own {found}"


def test_views_build_their_elements_with_the_dom_helper() -> None:
    """dom.js's el() is the one place that creates HTML elements (SVG shapes use createElementNS)."""
    makers = [path.name for path in JS_FILES if "createElement(" in path.read_text(encoding="utf-8")]
    assert makers == ["dom.js"]
