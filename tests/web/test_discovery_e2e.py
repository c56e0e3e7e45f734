"""Browser test of discovery: the "similar tracks" panel of a result and the catalog page
(genre chart, searchable table, 2-D map whose points open the track), on a real
``genrekit serve`` with the default model and a small library of generated songs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.server import make_song, running_server
from tests.web.test_e2e import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 30_000
N_SONGS = 3
# function form: the page's CSP forbids eval, which a bare expression string would need
CATALOG_HAS_ROWS = "(n) => document.querySelectorAll('#catalog-rows tr').length === n"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (scripts/test-setup.sh does) to run the browser test")
    root = tmp_path_factory.mktemp("discovery-e2e")
    with running_server(root, env={"GENREKIT_FULL_TIMELINE": "false"}) as url:
        stored = []
        for seed in range(N_SONGS):
            files = {"file": (f"song-{seed}.wav", make_song(9.0, seed=seed), "audio/wav")}
            response = httpx.post(f"{url}/api/v1/classify", files=files, timeout=120)
            assert response.status_code in (200, 201), response.text
            stored.append(response.json())
        yield url, stored


@pytest.fixture(scope="module")
def page(library: tuple[str, list[dict[str, Any]]]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # axe-core is injected
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
            assert errors == []
        finally:
            browser.close()


def test_result_shows_its_similar_tracks_above_the_floor(page: Any, library: tuple[str, list[dict[str, Any]]]) -> None:
    url, stored = library
    query = stored[0]
    api = httpx.get(f"{url}/api/v1/classifications/{query['id']}/similar", params={"k": 8}, timeout=30).json()
    everyone = httpx.get(
        f"{url}/api/v1/classifications/{query['id']}/similar", params={"k": 8, "min_score": -1}, timeout=30
    ).json()["data"]
    assert len(everyone) == N_SONGS - 1 and api["min_score"] > 0  # the shipped embedding's floor is a measured one
    page.goto(f"{url}/#/r/{query['id']}")
    page.wait_for_function("() => document.querySelector('#similar-panel .similar-note')?.textContent.includes('cosine')")
    items = page.locator("#similar-panel .similar-item")
    hrefs = [items.nth(i).locator("a").get_attribute("href") for i in range(items.count())]
    assert hrefs == [f"/#/r/{hit['id']}" for hit in api["data"]]  # only those at or above the floor
    assert all(hit["score"] >= api["min_score"] for hit in api["data"])
    if not api["data"]:
        assert "No close match yet" in page.locator("#similar-panel .similar-status").inner_text()
    else:
        assert "similar" in items.first.inner_text()


def test_catalog_page_fits_a_phone_and_links_back_to_history(page: Any, library: tuple[str, list[dict[str, Any]]]) -> None:
    from tests.web.test_e2e import PHONE, assert_accessible

    url, _ = library
    page.set_viewport_size({"width": 390, "height": PHONE["height"]})
    try:
        page.goto(f"{url}/static/catalog.html")
        page.wait_for_function("(n) => document.querySelectorAll('#catalog-rows tr').length >= n", arg=N_SONGS, timeout=TIMEOUT_MS)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        card = page.locator("#catalog-rows").locator("xpath=ancestor::section[1]").bounding_box()
        table = page.locator(".catalog-table").bounding_box()
        assert table["x"] + table["width"] <= card["x"] + card["width"] + 0.5  # the Tags column stays in its card
        assert page.locator("#filter-q").evaluate("n => getComputedStyle(n).borderRadius") != "0px"  # styled inputs
        assert page.get_attribute("#nav-history", "href") == "/#history-title"
        assert_accessible(page, "catalog, phone")
        page.goto(f"{url}/")
        page.wait_for_function("() => document.querySelectorAll('#history-list .history-name').length > 0")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def test_catalog_page_chart_table_and_map(page: Any, library: tuple[str, list[dict[str, Any]]]) -> None:
    url, stored = library
    page.goto(f"{url}/static/catalog.html")
    page.locator("#catalog-map circle").nth(N_SONGS - 1).wait_for(timeout=TIMEOUT_MS)
    assert f"{N_SONGS} tracks" in page.locator("#catalog-summary").inner_text()
    genres = {s["genres"][0]["genre"] for s in stored}
    assert page.locator("#genre-chart .chart-row").count() == len(genres)
    page.wait_for_function(CATALOG_HAS_ROWS, arg=N_SONGS, timeout=TIMEOUT_MS)
    page.fill("#filter-q", "song-1")
    page.click("#catalog-filter button[type=submit]")
    page.wait_for_function(CATALOG_HAS_ROWS, arg=1, timeout=TIMEOUT_MS)
    assert "song-1.wav" in page.locator("#catalog-rows").inner_text()
    point = page.locator("#catalog-map circle").first
    point.hover()
    assert "song-" in page.locator("#map-hover").inner_text()
    target = point.get_attribute("data-id")
    point.click()
    page.wait_for_url(f"**/#/r/{target}", timeout=TIMEOUT_MS)


def near_copy(wav: bytes) -> bytes:
    """The same song with its last sample changed: other bytes (not deduplicated), the same sound."""
    return wav[:-2] + bytes([wav[-2] ^ 1, wav[-1]])


def test_similar_panel_refreshes_when_a_result_is_stored(page: Any, library: tuple[str, list[dict[str, Any]]]) -> None:
    """Two files dropped on the page: the first is shown, and when the second (a near copy of it)
    is stored, the first's panel lists it without a reload. Last in the module: it adds tracks."""
    import base64

    from tests.web.test_e2e import DROP_FILES_JS

    url, _ = library
    song = make_song(6.0, seed=40)
    files = [
        {"name": "refresh-original.wav", "data": base64.b64encode(song).decode()},
        {"name": "refresh-near-copy.wav", "data": base64.b64encode(near_copy(song)).decode()},
    ]
    page.goto(f"{url}/")
    page.wait_for_function("() => document.getElementById('model-badge').textContent.startsWith('Model:')")
    page.evaluate(DROP_FILES_JS, files)
    page.wait_for_function("() => document.getElementById('result-name')?.textContent === 'refresh-original.wav'", timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#similar-panel .similar-name')].some((a) => a.textContent.includes('refresh-near-copy'))",
        timeout=TIMEOUT_MS * 2,
    )
