"""The "Why?" toggle in a real Chromium: it fetches the explanation of the shown result,
overlays the saliency on the spectrogram and outlines the windows that decided. With the
shipped model the server runs where torch cannot be imported, as in the serving install."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.server import build_demo_bundle, make_song, running_server
from tests.web.test_e2e import ARTIFACTS, CANVAS_STATS_JS, CHROMIUM, CHROMIUM_ARGS, DESKTOP, open_page, upload_and_wait

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Imported by the server's interpreter at start-up: torch and safetensors cannot be imported there.
NO_TORCH_SITECUSTOMIZE = """
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "safetensors"):
            raise ImportError(f"{name} is not installed here (test: a serving install)")
        return None
sys.meta_path.insert(0, _NoTorch())
"""
EXPLAIN_TIMEOUT_MS = 480_000  # the first explanation costs seconds of CPU (minutes on a busy machine)


@pytest.fixture(scope="module")
def explaining_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (scripts/test-setup.sh does) to run the browser test")
    from genrekit.bundle import default_bundle_path

    root = tmp_path_factory.mktemp("web-why")
    model = None if (default_bundle_path() / "card.json").is_file() else build_demo_bundle(root / "demo-bundle")
    env = {"GENREKIT_KEEP_AUDIO": "true", "GENREKIT_EXPLAIN_MAX_WINDOWS": "1"}
    if model is None:  # the shipped model runs on ONNX Runtime: serve it as `make run` does, where torch is absent
        blocker = root / "no-torch"
        blocker.mkdir()
        (blocker / "sitecustomize.py").write_text(NO_TORCH_SITECUSTOMIZE)
        env["PYTHONPATH"] = os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])
    with running_server(root, model=model, env=env) as url:
        yield url


@pytest.fixture(scope="module")
def browser(explaining_server: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.timeout(900)
def test_why_toggle_overlays_the_saliency_and_marks_the_deciding_windows(
    browser: Any, explaining_server: str, tmp_path: Path
) -> None:
    song = tmp_path / "three-sections.wav"
    song.write_bytes(make_song(12.0))
    context, page, errors = open_page(browser, f"{explaining_server}/", DESKTOP)
    try:
        result = upload_and_wait(page, song)
        toggle = page.locator("#why-toggle")
        assert toggle.get_attribute("aria-pressed") == "false"
        assert page.evaluate(CANVAS_STATS_JS, "why-canvas")["drawn"] == 0
        toggle.click()
        page.wait_for_function(
            "() => document.getElementById('why-toggle').getAttribute('aria-pressed') === 'true'",
            timeout=EXPLAIN_TIMEOUT_MS,
        )
        explanation = httpx.get(f"{explaining_server}/api/v1/classifications/{result['id']}/explanation", timeout=60).json()
        assert explanation["cached"] is True  # the page's request computed it; this one is served from the cache
        assert explanation["classification_id"] == result["id"] and len(explanation["windows"]) == 1
        status = page.locator("#why-status").inner_text()
        assert explanation["predicted"] in status and "window" in status
        stats = page.evaluate(CANVAS_STATS_JS, "why-canvas")
        assert stats["drawn"] > 0.01 * stats["total"]  # saliency cells and window outlines are drawn
        decisive = [w for w in explanation["windows"] if w["decisive"]]
        assert decisive  # at least one window carries the decision, and it is outlined
        x = page.evaluate(
            """(w) => { const c = document.getElementById('why-canvas');
                        const x = Math.round((w.start_s / w.duration) * c.width) + 1;
                        return c.getContext('2d').getImageData(x, Math.round(c.height / 2), 1, 1).data[3]; }""",
            {"start_s": decisive[0]["start_s"], "duration": explanation["duration_s"]},
        )
        assert x > 200  # the solid outline of a decisive window
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "why-overlay.png"), full_page=True)
        toggle.click()
        assert page.locator("#why-canvas").is_hidden()
        assert not errors.errors
    finally:
        context.close()


def test_why_helpers_in_the_browser(browser: Any, explaining_server: str) -> None:
    context, page, _ = open_page(browser, f"{explaining_server}/", DESKTOP)
    try:
        out = page.evaluate(
            """async () => {
                const m = await import('/static/js/explain.js');
                const cells = m.saliencyCells([[0.5, -1], [0, 1]], {x0: 10, x1: 30, height: 100, topFraction: 0.5});
                return {cells, mel: m.hzToMel(700)};
            }"""
        )
        assert out["cells"] == [
            {"x": 10, "y": 75, "w": 10, "h": 25, "alpha": 0.5},
            {"x": 20, "y": 50, "w": 10, "h": 25, "alpha": 1},
        ]
        assert abs(out["mel"] - 2595 * 0.30103) < 0.01
    finally:
        context.close()
