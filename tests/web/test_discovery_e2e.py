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
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
            assert errors == []
        finally:
            browser.close()


def test_result_shows_its_similar_tracks(page: Any, library: tuple[str, list[dict[str, Any]]]) -> None:
    url, stored = library
    query = stored[0]
    page.goto(f"{url}/#/r/{query['id']}")
    items = page.locator("#similar-panel .similar-item")
    items.first.wait_for(timeout=TIMEOUT_MS)
    assert items.count() == N_SONGS - 1
    hrefs = [items.nth(i).locator("a").get_attribute("href") for i in range(items.count())]
    assert sorted(hrefs) == sorted(f"/#/r/{s['id']}" for s in stored[1:])
    assert "similarity" in items.first.inner_text()


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
