"""End-to-end test of the web UI in a real Chromium against a real ``genrekit serve``.

The server runs the default bundle when it is built, else a demo bundle (the real
pretrained MSD musicnn backbone with an untrained head: real decoding, windows, tags and
storage, arbitrary genres). It keeps submitted audio, so permalinks stream it from
``/audio`` with byte ranges; a server that keeps none, or has a small upload limit, is
emulated by answering the page's ``GET /api/v1/config`` in the browser. Screenshots go to
``test-artifacts/`` (desktop and 375 px).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.server import build_demo_bundle, make_song, running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
TIMEOUT_MS = 30_000  # longest wait for one UI state (the first classification loads the model's code paths)

# Counts the drawn pixels of a canvas: alpha > 0 (waveform) and bright ones (spectrogram).
CANVAS_STATS_JS = """(id) => {
  const canvas = document.getElementById(id);
  if (!canvas || !canvas.width || !canvas.height) return {drawn: 0, bright: 0, total: 0};
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0, bright = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0) drawn += 1;
    if (data[i] + data[i + 1] + data[i + 2] > 150) bright += 1;
  }
  return {drawn, bright, total: data.length / 4};
}"""


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (scripts/test-setup.sh does) to run the browser test")
    from genrekit.bundle import default_bundle_path

    root = tmp_path_factory.mktemp("web-e2e")
    model = None
    if not (default_bundle_path() / "card.json").is_file():
        model = build_demo_bundle(root / "demo-bundle")
    with running_server(root, model=model, env={"GENREKIT_KEEP_AUDIO": "true"}) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server_url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def song(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("song") / "three-sections.wav"
    path.write_bytes(make_song(12.0))
    return path


@pytest.fixture(scope="module")
def labels(server_url: str) -> list[str]:
    return list(httpx.get(f"{server_url}/api/v1/models", timeout=10).json()["data"][0]["labels"])


class PageErrors:
    """Uncaught exceptions of a page (``errors``) and its console errors (``console``: failed loads
    such as a 404 or the problem answer to a refused upload, which some tests expect)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.console: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and self.console.append(message.text))


def open_page(
    browser: Any, url: str, viewport: dict[str, int], *, config: dict[str, Any] | None = None, axe: bool = False
) -> tuple[Any, Any, PageErrors]:
    """A new context and page at ``url``; ``config`` replaces the server's answer to ``GET /api/v1/config``;
    ``axe`` lets the test inject axe-core past the page's Content-Security-Policy."""
    context = browser.new_context(viewport=viewport, bypass_csp=axe)
    context.set_default_timeout(TIMEOUT_MS)
    if config is not None:
        context.route("**/api/v1/config", lambda route: route.fulfill(json=config))
    page = context.new_page()
    errors = PageErrors(page)
    # Playwright turns file-chooser interception on lazily; a listener set before the page
    # loads makes sure the first chooser (opened from a key press) is not missed.
    page.on("filechooser", lambda chooser: None)
    page.goto(url)
    return context, page, errors


# Records every text the upload queue shows (uploading with a percentage, then analysing).
PROGRESS_LOG_JS = """() => {
  window.progressLog = [];
  const queue = document.getElementById("queue");
  new MutationObserver(() => queue.querySelectorAll(".queue-status").forEach((s) => window.progressLog.push(s.textContent)))
    .observe(queue, {childList: true, characterData: true, subtree: true});
}"""


def wait_complete(base_url: str, result_id: str, timeout_s: float = 120.0) -> dict[str, Any]:
    """The stored result once its background timeline is done (the quick answer's spread windows
    are replaced by every window)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = httpx.get(f"{base_url}/api/v1/classifications/{result_id}", timeout=10).json()
        if result["timeline"]["state"] != "running" or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def upload_and_wait(page: Any, path: Path) -> dict[str, Any]:
    """Upload through the file input; return the stored result once the UI shows its full timeline."""
    page.set_input_files("#file-input", str(path))
    page.wait_for_selector("#result:not([hidden])")
    page.wait_for_function("() => /^#\\/r\\/[^/]+$/.test(location.hash)")
    result_id = page.evaluate("() => decodeURIComponent(location.hash.slice(4))")
    base = page.evaluate("() => location.origin")
    result = wait_complete(base, result_id)
    page.wait_for_function("() => document.getElementById('timeline-note').hidden")
    return result


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two "#rrggbb" colours (1 to 21)."""

    def luminance(color: str) -> float:
        channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def genre_bands(segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive back-to-back segments of one genre merged (what the page draws as one band)."""
    bands: list[dict[str, Any]] = []
    for segment in segments:
        if bands and bands[-1]["genre"] == segment["genre"] and segment["start_s"] <= bands[-1]["end_s"] + 0.05:
            bands[-1]["end_s"] = max(bands[-1]["end_s"], segment["end_s"])
        else:
            bands.append({"start_s": segment["start_s"], "end_s": segment["end_s"], "genre": segment["genre"]})
    return bands


def wait_for_canvas(page: Any, canvas_id: str, key: str, min_fraction: float) -> dict[str, int]:
    page.wait_for_function(
        f"(id) => {{ const s = ({CANVAS_STATS_JS})(id); return s.total > 0 && s.{key} / s.total >= {min_fraction}; }}",
        arg=canvas_id,
    )
    return page.evaluate(CANVAS_STATS_JS, canvas_id)


def test_upload_renders_result_seeks_and_shares(browser: Any, server_url: str, song: Path, labels: list[str]) -> None:
    context, page, errors = open_page(browser, f"{server_url}/", DESKTOP)
    try:
        page.wait_for_function("() => document.getElementById('model-badge').textContent.startsWith('Model:')")
        page.evaluate(PROGRESS_LOG_JS)
        result = upload_and_wait(page, song)
        progress_log = page.evaluate("() => window.progressLog")
        assert any(text.startswith("Uploading") for text in progress_log), progress_log
        assert any(text.startswith("Analysing") for text in progress_log), progress_log  # upload done, waiting
        assert page.locator("#progress").is_hidden()
        assert page.locator("#queue .queue-item.is-done").count() == 1
        top = result["genres"][0]["genre"]

        bars = page.locator("#genre-bars > li")
        assert bars.count() == len(labels)
        assert sorted(bars.evaluate_all("rows => rows.map(r => r.dataset.genre)")) == sorted(labels)
        assert page.locator("#genre-bars > li.is-top").get_attribute("data-genre") == top
        assert top.lower().replace("-", "") in page.locator("#result-genre").inner_text().lower().replace("-", "")

        segments = page.locator("#timeline button.segment")
        bands = genre_bands(result["segments"])
        assert segments.count() == len(bands) >= 1
        first_label = segments.first.get_attribute("aria-label")
        assert re.match(r"0:00\u2013\d:\d\d \S+ \d+%", first_label), first_label
        assert segments.first.get_attribute("title").startswith("0:00\u2013")
        assert page.locator("#timeline-legend li").count() == len({b["genre"] for b in bands})

        waveform = wait_for_canvas(page, "waveform-canvas", "drawn", 0.05)
        assert waveform["drawn"] < waveform["total"]  # bars, not a filled rectangle
        wait_for_canvas(page, "mel-canvas", "bright", 0.05)
        if result["tag_groups"]:
            assert page.locator("#tags > li.tag-group").count() == len(result["tag_groups"])

        last = len(bands) - 1
        expect_start = bands[last]["start_s"]
        assert page.locator("#play").is_enabled()
        segments.nth(last).click()
        page.wait_for_function(
            "(start) => { const t = document.getElementById('audio').currentTime; return t >= start - 0.05 && t < start + 1.0; }",
            arg=expect_start,
        )
        assert page.locator("#timeline button.segment").nth(last).get_attribute("class").count("is-current") == 1

        ARTIFACTS.mkdir(exist_ok=True)
        page.evaluate("() => document.getElementById('audio').pause()")
        page.screenshot(path=str(ARTIFACTS / "web-desktop.png"), full_page=True)

        permalink = page.locator("#permalink").input_value()
        assert permalink.endswith(f"#/r/{result['id']}")
        shared = context.new_page()
        shared_errors = PageErrors(shared)
        audio_statuses: list[int] = []
        shared.on("response", lambda r: r.url.endswith("/audio") and audio_statuses.append(r.status))
        shared.goto(permalink)
        shared.wait_for_selector("#result:not([hidden])")
        assert shared.locator("#result-genre").inner_text() == page.locator("#result-genre").inner_text()
        assert shared.locator("#genre-bars > li").count() == len(labels)
        assert shared.locator("#timeline button.segment").count() == len(bands)
        wait_for_canvas(shared, "waveform-canvas", "drawn", 0.05)
        wait_for_canvas(shared, "mel-canvas", "bright", 0.05)
        assert "-80 dB" in shared.locator("#mel-caption").inner_text()
        # the server keeps audio: the permalink streams it (byte ranges) and seeks in it
        shared.wait_for_function("() => !document.getElementById('play').disabled")
        src = shared.evaluate("() => document.getElementById('audio').getAttribute('src')")
        assert src == f"/api/v1/classifications/{result['id']}/audio"
        assert shared.locator("#audio-note").is_hidden()
        shared.locator("#timeline button.segment").nth(last).click()
        shared.wait_for_function(
            "(start) => { const a = document.getElementById('audio'); return !a.paused && a.currentTime >= start - 0.05 && a.currentTime < start + 1.0; }",
            arg=expect_start,
        )
        shared.evaluate("() => document.getElementById('audio').pause()")
        assert 206 in audio_statuses and set(audio_statuses) <= {200, 206}, audio_statuses
        assert shared.locator("#history-list a[aria-current='page']").get_attribute("data-id") == result["id"]
        assert shared_errors.errors == [] and shared_errors.console == []
        assert errors.errors == [] and errors.console == []
    finally:
        context.close()


def _config(server_url: str, **changes: Any) -> dict[str, Any]:
    return {**httpx.get(f"{server_url}/api/v1/config", timeout=10).json(), **changes}


def test_permalink_without_stored_audio_says_so_without_asking(browser: Any, server_url: str, song: Path) -> None:
    result = httpx.post(f"{server_url}/api/v1/classify", files={"file": (song.name, song.read_bytes())}, timeout=60).json()
    result = wait_complete(server_url, result["id"])
    config = _config(server_url, keep_audio=False)
    context, page, errors = open_page(browser, f"{server_url}/#/r/{result['id']}", DESKTOP, config=config)
    try:
        audio_requests: list[str] = []
        page.on("request", lambda r: r.url.endswith("/audio") and audio_requests.append(r.url))
        page.wait_for_selector("#result:not([hidden])")
        page.wait_for_function("() => /does not keep/.test(document.getElementById('audio-note').textContent)")
        assert page.locator("#audio-note").is_visible()
        assert page.locator("#play").is_disabled()
        wait_for_canvas(page, "waveform-canvas", "drawn", 0.05)
        band = page.locator("#timeline button.segment").last
        band.click()  # the cursor still moves
        page.wait_for_function("() => document.querySelector('#timeline button.segment:last-child').classList.contains('is-current')")
        if float(band.get_attribute("data-start")) >= 1:
            assert page.locator("#time-current").inner_text() != "0:00"
        assert audio_requests == []
        assert errors.errors == [] and errors.console == []  # no 404 from probing /audio
    finally:
        context.close()


def test_a_file_over_the_upload_limit_is_refused_before_uploading(browser: Any, server_url: str, song: Path) -> None:
    config = _config(server_url, max_upload_bytes=100_000, max_upload_mb=100_000 / 1048576)
    context, page, errors = open_page(browser, f"{server_url}/", DESKTOP, config=config)
    try:
        posts: list[str] = []
        page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
        page.wait_for_function("() => document.getElementById('upload-limits').textContent !== ''")
        assert page.locator("#dropzone-formats").inner_text().endswith(" · up to 97.7 KiB and 20 min")
        page.set_input_files("#file-input", str(song))
        page.wait_for_selector("#queue .queue-item.is-error")
        size_kb = math.ceil(song.stat().st_size / 102.4) / 10  # rounded up to 0.1 KiB
        detail = page.locator("#queue .queue-status").inner_text()
        assert detail == f"Too large ({size_kb:g} KiB; the limit is 97.7 KiB)", detail
        assert page.locator("#progress").is_hidden() and page.locator("#result").is_hidden()
        assert posts == []
        assert errors.errors == [] and errors.console == []
    finally:
        context.close()


def test_bad_file_shows_the_problem(browser: Any, server_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-song.mp3"
    bad.write_bytes(b"This is a plain text file that someone renamed to .mp3.\n" * 20)
    expected = httpx.post(f"{server_url}/api/v1/classify", files={"file": (bad.name, bad.read_bytes(), "audio/mpeg")}, timeout=30)
    assert expected.status_code in (415, 422)
    problem = expected.json()

    context, page, errors = open_page(browser, f"{server_url}/", DESKTOP)
    try:
        page.set_input_files("#file-input", str(bad))
        page.wait_for_selector("#queue .queue-item.is-error")
        assert page.locator("#queue .queue-status").inner_text() == f"{problem['title']}: {problem['detail']}"
        assert "this file is not audio (it looks like text)" in problem["detail"]
        name_box = page.locator("#queue .queue-name").bounding_box()
        status_box = page.locator("#queue .queue-status").bounding_box()
        assert name_box["width"] >= 100 and status_box["y"] >= name_box["y"] + name_box["height"] - 1  # the error wraps below the name
        assert page.locator("#queue-cancel").is_hidden()  # nothing left to cancel
        assert page.locator("#result").is_hidden()
        assert page.locator("#progress").is_hidden()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-error.png"))

        page.fill("#url-input", "not a link")
        page.click("#url-submit")
        page.wait_for_function("() => document.getElementById('error-title').textContent === 'Invalid link'")
        private_link = "http://127.0.0.1:9/song.mp3"  # the server refuses loopback links by default
        refused = httpx.post(f"{server_url}/api/v1/classify/url", json={"url": private_link}, timeout=30).json()
        page.fill("#url-input", private_link)
        page.press("#url-input", "Enter")
        page.wait_for_function("(title) => document.getElementById('error-title').textContent === title", arg=refused["title"])
        assert page.locator("#error-detail").inner_text() == refused["detail"]
        assert page.locator("#url-input").is_enabled()
        assert errors.errors == []
    finally:
        context.close()


def test_phone_width_keyboard_and_history(browser: Any, server_url: str, song: Path) -> None:
    context, page, errors = open_page(browser, f"{server_url}/", PHONE)
    try:
        page.keyboard.press("Tab")  # skip link
        focused = []
        for _ in range(8):
            page.keyboard.press("Tab")
            focused.append(page.evaluate("() => document.activeElement.id"))
            if focused[-1] == "dropzone":
                break
        assert focused[-1] == "dropzone", focused
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Enter")
        chooser.value.set_files(str(song))
        page.wait_for_selector("#result:not([hidden])")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]

        segment = page.locator("#timeline button.segment").first
        segment.focus()
        assert page.evaluate("() => document.activeElement.classList.contains('segment')")
        page.wait_for_selector("#history-list a.history-link")
        history_genre = page.locator("#history-list a.history-link").first.locator(".history-genre").inner_text()
        assert history_genre.split()[0].lower() in page.locator("#result-genre").inner_text().lower()

        top = page.locator("#genre-bars > li.is-top").get_attribute("data-genre")
        other = next(v for v in page.locator("#history-genre option").evaluate_all("os => os.map(o => o.value)") if v and v != top)
        page.select_option("#history-genre", other)
        page.wait_for_function("() => !document.getElementById('history-list').hasAttribute('aria-busy')")
        page.wait_for_selector("#history-empty:not([hidden])")
        page.select_option("#history-genre", top)
        page.wait_for_selector("#history-list a.history-link")

        ARTIFACTS.mkdir(exist_ok=True)
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(ARTIFACTS / "web-phone.png"), full_page=True)
        assert errors.errors == []
    finally:
        context.close()


HELPERS_JS = """async () => {
  const f = await import("/static/js/format.js");
  const r = await import("/static/js/result.js");
  const w = await import("/static/js/waveform.js");
  const s = await import("/static/js/spectrogram.js");
  const c = await import("/static/js/colormap.js");
  const a = await import("/static/js/api.js");
  const e = await import("/static/js/export.js");
  const segments = [{start_s: 0, end_s: 3}, {start_s: 1.5, end_s: 4.5}, {start_s: 3, end_s: 6}];
  const sparse = [{start_s: 10, end_s: 13}, {start_s: 100, end_s: 103}];
  const problem = a.problemFromResponse(415, '{"type":"/problems/not-audio","title":"Not audio","status":415,"detail":"it is text"}');
  const plain = a.problemFromResponse(413, "<html>too big</html>");
  return {
    times: [f.formatTime(0), f.formatTime(65.4), f.formatTime(3725), f.formatTime(NaN), f.formatSpan(3, 6)],
    percents: [f.formatPercent(0.823), f.formatPercent(0.001), f.formatPercent(0), f.formatPercent(1)],
    sizes: [f.formatSize(512), f.formatSize(10485), f.formatSize(2.5 * 1048576), f.formatSize(100 * 1048576 + 1)],
    spans: r.segmentSpans(segments, 6),
    sparse: r.segmentSpans(sparse, 200, 0.03),
    notes: [
      r.timelineNote({segments, duration_s: 6, complete: true}),
      r.timelineNote({segments: sparse, duration_s: 200, complete: false, timeline: {state: "partial", covered_s: 0}}),
      r.timelineNote({segments: sparse, duration_s: 200, complete: false, timeline: {state: "running", covered_s: 50}}),
    ],
    at: [r.segmentAt(segments, 0), r.segmentAt(segments, 2), r.segmentAt(segments, 5.9), r.segmentAt(segments, 7)],
    bands: r.genreBands([
      {start_s: 0, end_s: 3, genre: "jazz", score: 0.6, runner_up: {genre: "blues", score: 0.3}},
      {start_s: 3, end_s: 6, genre: "jazz", score: 0.8, runner_up: {genre: "rock", score: 0.1}},
      {start_s: 6, end_s: 9, genre: "rock", score: 0.5},
      {start_s: 30, end_s: 33, genre: "rock", score: 0.5},
    ]),
    textColors: ["#7c2d12", "#eab308", "#ffffff", "#000000"].map(r.textColorOn),
    labelPairs: ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock", "other"]
      .map((g) => [f.genreColor(g), r.textColorOn(f.genreColor(g))]),
    levels: [
      r.uncertaintyLevel({genres: [{genre: "blues", score: 0.23}, {genre: "jazz", score: 0.21}]}),
      r.uncertaintyLevel({genres: [{genre: "blues", score: 0.8}, {genre: "jazz", score: 0.1}], uncertainty: {level: "confident"}}),
      r.uncertaintyLevel({genres: [{genre: "blues", score: 0.8}], uncertainty: {level: "unknown", ood_score: 0.9}}),
    ],
    heads: [
      r.headline({genres: [{genre: "blues", score: 0.23}, {genre: "jazz", score: 0.21}], uncertainty: {level: "mixed"}}).title,
      r.headline({genres: [{genre: "blues", score: 0.3}, {genre: "jazz", score: 0.2}, {genre: "rock", score: 0.1}], uncertainty: {level: "unknown"}}),
      r.headline({genres: [{genre: "blues", score: 0.23}, {genre: "jazz", score: 0.21}], complete: false}),
      r.headline({genres: [{genre: "blues", score: 0.3}, {genre: "jazz", score: 0.25}, {genre: "rock", score: 0.2}],
                  uncertainty: {level: "mixed", named: ["blues", "jazz", "rock"]}}),
    ],
    answers: [
      r.answerNotes({
        genres: [{genre: "rock", score: 0.4}, {genre: "jazz", score: 0.36}], segments: new Array(33).fill({}), complete: true,
        shares: [{genre: "rock", score: 0.3}, {genre: "jazz", score: 0.52}],
        uncertainty: {level: "mixed", reliability: {rate: 0.9, low: 0.85, high: 0.94, coverage: 0.4, statement: "Right about 9 times in 10."}},
      }),
      r.answerNotes({genres: [{genre: "rock", score: 0.6}], segments: sparse, complete: false, shares: [{genre: "rock", score: 1}],
        timeline: {state: "running", covered_s: 10}, uncertainty: {level: "confident", reliability: null}}),
      r.timelineDisagreement({genres: [{genre: "rock", score: 0.4}], shares: [{genre: "rock", score: 0.5}, {genre: "jazz", score: 0.5}]}),
      r.timelineDisagreement({genres: [{genre: "rock", score: 0.4}]}),
    ],
    ticks: s.timeTicks(180),
    mels: [s.slaneyMel(1000), s.slaneyMel(500)],
    csv: [e.csvCell("=1+1"), e.csvCell('say "hi", ok'), e.csvCell(null), e.csvCell(0.5)],
    peaks: Array.from(w.peaksFromChannels([Float32Array.from([0, 0.5, -1, 0.25]), Float32Array.from([0.75, 0, 0, -0.5])], 2)),
    resampled: Array.from(w.resamplePeaks([0.1, 0.9, 0.2, 0.3], 2)),
    lut: Array.from(c.MAGMA),
    rgba: Array.from(s.melToRgba(Uint8Array.from([0, 1, 2, 3, 4, 5]), 2, 3, c.MAGMA).slice(0, 8)),
    bytes: Array.from(s.base64ToBytes("AAEC/w==")),
    problem: [problem.title, problem.detail, problem.status],
    plain: [plain.title, plain.status],
    routes: [a.resultHash("a b/c"), a.resultHref("x"), a.resultIdFromHash(a.resultHash("a b/c")), a.resultIdFromHash("#/"),
             a.resultIdFromHash("#/r/x/y"), a.resultIdFromHash("#/r/x?y")],
  };
}"""


def test_pure_helpers_in_the_browser(browser: Any, server_url: str) -> None:
    import numpy as np
    from matplotlib import colormaps

    context, page, errors = open_page(browser, f"{server_url}/", DESKTOP)
    try:
        out = page.evaluate(HELPERS_JS)
    finally:
        context.close()
    assert out["times"] == ["0:00", "1:05", "1:02:05", "0:00", "0:03\u20130:06"]
    assert out["percents"] == ["82%", "<1%", "0%", "100%"]
    assert out["sizes"] == ["512 bytes", "10.3 KiB", "2.5 MiB", "100.1 MiB"]
    assert out["spans"] == [{"left": 0, "right": 0.25}, {"left": 0.25, "right": 0.5}, {"left": 0.5, "right": 1}]
    assert out["at"] == [0, 1, 2, -1]
    assert out["sparse"] == [
        {"left": pytest.approx(0.0425), "right": pytest.approx(0.0725)},
        {"left": pytest.approx(0.4925), "right": pytest.approx(0.5225)},
    ]
    assert out["notes"][0] == "" and out["notes"][1].startswith("Genre read from 2 windows of 3 s")
    assert "now analysing every section (25% done)" in out["notes"][2]
    assert [(b["start_s"], b["end_s"], b["genre"]) for b in out["bands"]] == [(0, 6, "jazz"), (6, 9, "rock"), (30, 33, "rock")]
    assert out["bands"][0]["score"] == pytest.approx(0.7) and out["bands"][0]["runnerUp"]["genre"] == "blues"
    assert out["bands"][0]["runnerUp"]["score"] == pytest.approx(0.15) and out["bands"][1]["runnerUp"] is None
    assert out["textColors"] == ["#ffffff", "#000000", "#000000", "#ffffff"]
    for background, text in out["labelPairs"]:  # every band label meets WCAG AA (4.5:1) on its colour
        assert contrast_ratio(background, text) >= 4.5, (background, text)
    colors = [background for background, _ in out["labelPairs"]]
    assert len(set(colors)) == len(colors) and colors[6] == "#7c2d12"  # metal: a colour of its own, not grey
    assert out["levels"] == [None, "confident", "unknown"]  # the API's level, never re-derived from the scores
    assert out["heads"][0] == "Mixed: Blues / Jazz"
    assert out["heads"][3]["title"] == "Mixed: Blues / Jazz / Rock"  # the genres the API names
    assert out["heads"][3]["eyebrow"].startswith("Between three genres")
    assert out["heads"][2]["title"] == "Blues" and out["heads"][2]["eyebrow"] == "Top genre \u00b7 first look"
    whole, first, tie, old = out["answers"]
    assert whole[0] == "Whole song: the answer from every window." and whole[1] == "Right about 9 times in 10."
    assert whole[2].startswith("Jazz tops 52% of the song's windows, Rock 30%; Rock leads")
    assert first == [
        "First look from a few windows spread over the song; the whole song's answer replaces it once every window is analysed."
    ]
    assert tie is None and old is None
    assert out["heads"][1]["title"] == "None of these 3 genres" and "Closest: Blues 30%, Jazz 20%, Rock 10%" in out["heads"][1]["detail"]
    assert out["ticks"] == [0, 30, 60, 90, 120, 150, 180]
    assert out["mels"] == pytest.approx([15.0, 7.5])
    assert out["csv"] == ["'=1+1", '"say ""hi"", ok"', "", "0.5"]
    assert out["peaks"] == pytest.approx([0.75, 1.0])
    assert out["resampled"] == pytest.approx([0.9, 0.3])
    lut = np.asarray(out["lut"]).reshape(256, 3)
    reference = np.round(colormaps["magma"](np.arange(256) / 255.0)[:, :3] * 255)
    assert np.abs(lut - reference).max() <= 4  # 17-stop interpolation of matplotlib's 256-entry magma
    assert out["rgba"] == [*lut[3], 255, *lut[4], 255]  # top-left pixel is the highest band
    assert out["bytes"] == [0, 1, 2, 255]
    assert out["problem"] == ["Not audio", "it is text", 415]
    assert out["plain"] == ["File too large", 413]
    assert out["routes"] == ["#/r/a%20b%2Fc", "/#/r/x", "a b/c", None, None, None]
    assert errors.errors == []


AXE_JS = Path(__file__).with_name("vendor") / "axe.min.js"  # axe-core from npm, unmodified
FULL_SONG_TIMEOUT_MS = 300_000  # every window of a 3-minute song, on a busy 2-core machine
AXE_VIOLATIONS_JS = """async () => {
  const report = await axe.run(document, {resultTypes: ["violations"]});
  return report.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(" ")}: ${(n.failureSummary || "").slice(0, 160)}`)}));
}"""


def assert_accessible(page: Any, view: str) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_JS))
    violations = page.evaluate(AXE_VIOLATIONS_JS)
    assert violations == [], f"{view}: {violations}"


# Records the timeline note and the number of bands each time the timeline changes.
TIMELINE_LOG_JS = """() => {
  window.timelineLog = [];
  const note = document.getElementById("timeline-note");
  const record = () => window.timelineLog.push({note: note.hidden ? "" : note.textContent, bands: document.querySelectorAll("#timeline .segment").length});
  new MutationObserver(record).observe(document.getElementById("timeline"), {childList: true});
}"""


def test_a_full_song_fills_its_timeline_live_with_an_honest_headline(
    browser: Any, server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    long_song = tmp_path_factory.mktemp("long") / "three-minutes.wav"
    long_song.write_bytes(make_song(180.0, sr=16000, seed=3))
    context, page, errors = open_page(browser, f"{server_url}/", DESKTOP, axe=True)
    try:
        page.evaluate(TIMELINE_LOG_JS)
        page.set_input_files("#file-input", str(long_song))
        page.wait_for_selector("#result:not([hidden])")
        result_id = page.evaluate("() => decodeURIComponent(location.hash.slice(4))")
        page.wait_for_function(
            "() => document.getElementById('timeline-note').hidden && document.querySelectorAll('#timeline .segment').length > 0",
            timeout=FULL_SONG_TIMEOUT_MS,
        )
        full = httpx.get(f"{server_url}/api/v1/classifications/{result_id}", timeout=10).json()
        assert full["complete"] is True and full["timeline"]["state"] == "complete"
        segments = full["segments"]
        assert segments[0]["start_s"] == 0 and segments[-1]["end_s"] == pytest.approx(180.0, abs=0.1)
        assert all(b["start_s"] <= a["end_s"] + 0.05 for a, b in zip(segments, segments[1:]))  # no gaps
        log = page.evaluate("() => window.timelineLog")
        assert any("now analysing every section" in entry["note"] for entry in log), log  # the page saw it run
        assert log[-1]["note"] == "" and log[-1]["bands"] == len(genre_bands(segments))
        bands = page.locator("#timeline .segment")
        left = bands.first.evaluate("b => b.style.left")
        right = bands.last.evaluate("b => parseFloat(b.style.left) + parseFloat(b.style.width)")
        assert left == "0%" and right == pytest.approx(100.0, abs=0.01)  # the bands cover the song
        assert page.locator("#mel-freq-axis span").count() >= 4 and page.locator("#mel-time-axis span").count() >= 4
        fact_heights = page.locator("#result-facts .fact").evaluate_all(
            "facts => facts.map(f => f.getBoundingClientRect().height / parseFloat(getComputedStyle(f).lineHeight))"
        )
        assert fact_heights and all(h < 1.5 for h in fact_heights), fact_heights  # the date and time on one line
        page.evaluate("() => window.scrollTo(0, 0)")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-full-timeline-desktop.png"), full_page=True)
        assert_accessible(page, "result, desktop")

        assert page.locator("#result-genre").get_attribute("data-answer") == "whole-song"
        assert page.locator("#result-eyebrow").inner_text().lower().endswith("whole song")
        assert page.locator("#result-answer").inner_text().startswith("Whole song: the answer from every window.")
        assert page.locator("#genre-bars .genre-bar").first.get_attribute("data-genre") == full["genres"][0]["genre"]
        assert_switches_to_the_whole_song(browser, server_url, full)

        mixed = {**full, "uncertainty": {"level": "mixed", "ood_score": None}}
        phone = browser.new_context(viewport=PHONE, bypass_csp=True)
        phone.route(f"**/api/v1/classifications/{result_id}", lambda route: route.fulfill(json=mixed))
        phone_page = phone.new_page()
        phone_errors = PageErrors(phone_page)
        phone_page.goto(f"{server_url}/#/r/{result_id}")
        phone_page.wait_for_selector("#result:not([hidden])")
        first, second = full["genres"][0]["genre"], full["genres"][1]["genre"]
        headline = phone_page.locator("#result-genre").inner_text()
        assert headline.startswith("Mixed: ") and "/" in headline, headline
        assert first[:3].lower() in headline.lower() and second[:3].lower() in headline.lower()
        assert "too close to call" in phone_page.locator("#result-confidence").inner_text()
        assert phone_page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        phone_page.screenshot(path=str(ARTIFACTS / "web-mixed-phone.png"), full_page=True)
        assert_accessible(phone_page, "mixed result, phone")
        phone.close()
        assert errors.errors == [] and phone_errors.errors == []
    finally:
        context.close()


def assert_switches_to_the_whole_song(browser: Any, server_url: str, full: dict[str, Any]) -> None:
    """A page showing a first look whose headline differs from the whole song's answer (Jazz
    first, the stored genres once complete, served in that order) switches its headline, bars and
    notes when the timeline completes, and shows each genre's share of the windows where most of
    the timeline names another genre than the headline."""
    result_id = full["id"]
    labels = [g["genre"] for g in full["genres"]]
    top, other = labels[0], labels[1]
    first_look = {
        **full,
        "complete": False,
        "timeline": {"state": "running", "covered_s": 30.0},
        "segments": full["segments"][::10],
        "genres": [{**full["genres"][1], "score": 0.6}, {**full["genres"][0], "score": 0.3}, *full["genres"][2:]],
        "uncertainty": {"level": "confident", "ood_score": None},
        "shares": [],
    }
    whole = {
        **full,
        "uncertainty": {"level": "confident", "ood_score": None, "reliability": {"statement": "Right about 9 times in 10 here."}},
        "shares": [{"genre": g, "score": 0.6 if g == other else 0.4 if g == top else 0.0} for g in labels],
    }
    answers = iter([first_look, first_look])
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    context.route(f"**/api/v1/classifications/{result_id}", lambda route: route.fulfill(json=next(answers, whole)))
    page = context.new_page()
    errors = PageErrors(page)
    try:
        page.goto(f"{server_url}/#/r/{result_id}")
        page.wait_for_selector("#result:not([hidden])")
        genre = page.locator("#result-genre")
        assert genre.get_attribute("data-answer") == "first-look" and genre.inner_text() == genre_title(other)
        assert "first look" in page.locator("#result-eyebrow").inner_text().lower()
        page.wait_for_selector('#result-genre[data-answer="whole-song"]')
        assert genre.inner_text() == genre_title(top)  # the headline switched to the whole song's answer
        notes = page.locator("#result-answer .answer-note").all_inner_texts()
        assert notes[0] == "Whole song: the answer from every window." and notes[1] == "Right about 9 times in 10 here."
        assert notes[2].startswith(f"{genre_title(other)} tops 60% of the song's windows, {genre_title(top)} 40%")
        bars = page.locator("#genre-bars .genre-bar")
        assert bars.first.get_attribute("data-genre") == top
        assert bars.first.locator(".genre-bar-share").inner_text() == "40% of windows"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-whole-song-shares-desktop.png"), full_page=True)
        assert errors.errors == []
    finally:
        context.close()


def genre_title(genre: str) -> str:
    """The page's display name of a genre (format.js genreTitle) for the labels used here."""
    return {"hiphop": "Hip-hop"}.get(genre, genre[:1].upper() + genre[1:])


DROP_FILES_JS = """(files) => {
  const transfer = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], f.name, {type: "audio/wav"}));
  }
  document.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
}"""


def test_many_files_export_history_playback_after_reload_and_delete(browser: Any, server_url: str, tmp_path: Path) -> None:
    import base64
    import csv
    import io
    import json

    names = [f"queue-{i} a long name for the history list.wav" for i in range(3)]
    files = [{"name": n, "data": base64.b64encode(make_song(4.0, seed=20 + i)).decode()} for i, n in enumerate(names)]
    context, page, errors = open_page(browser, f"{server_url}/", DESKTOP, axe=True)
    try:
        page.wait_for_function("() => document.getElementById('model-badge').textContent.startsWith('Model:')")
        assert "kept on this server for 30 days" in page.locator("#history-notice").inner_text()
        assert_accessible(page, "home, desktop")
        page.evaluate(DROP_FILES_JS, files)
        assert page.locator("#queue .queue-item").count() == 3
        assert page.locator("#queue .queue-item progress").count() == 3  # each file has its own progress
        page.wait_for_function("() => document.querySelectorAll('#queue .queue-item.is-done').length === 3")
        page.wait_for_selector("#queue-cancel", state="hidden")  # "Cancel the rest" goes once everything is done
        page.wait_for_selector("#result:not([hidden])")
        listed = page.locator("#history-list .history-name").all_inner_texts()
        assert set(names) <= set(listed)
        link = page.locator("#history-list a.history-link", has_text=names[1])
        assert link.get_attribute("title") == names[1]  # full name on hover

        with page.expect_download() as download:
            page.click("#export-csv")
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        assert set(names) <= {row["name"] for row in rows}
        assert all(row["permalink"].endswith(row["id"]) for row in rows)
        with page.expect_download() as download:
            page.click("#export-json")
        exported = json.loads(Path(download.value.path()).read_text())
        assert {item["filename"] for item in exported} == {row["name"] for row in rows}

        page.reload()
        page.locator("#history-list a.history-link", has_text=names[1]).click()
        page.wait_for_selector("#result:not([hidden])")
        page.wait_for_function("() => !document.getElementById('play').disabled")
        page.click("#play")
        page.wait_for_function("() => { const a = document.getElementById('audio'); return !a.paused && a.currentTime > 0.2; }")
        page.evaluate("() => document.getElementById('audio').pause()")
        assert page.locator("#result-name").inner_text() == names[1]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-history-playing-desktop.png"), full_page=True)

        shown_id = page.evaluate("() => decodeURIComponent(location.hash.slice(4))")
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator(f"#history-list li[data-id='{shown_id}'] .history-delete").click()
        page.wait_for_selector(f"#history-list li[data-id='{shown_id}']", state="detached")
        page.wait_for_selector("#result", state="hidden")
        assert httpx.get(f"{server_url}/api/v1/classifications/{shown_id}", timeout=10).status_code == 404
        assert httpx.get(f"{server_url}/api/v1/classifications/{shown_id}/audio", timeout=10).status_code == 404

        page.fill("#history-search", "queue-2 a long")
        page.wait_for_function("() => document.querySelectorAll('#history-list .history-name').length === 1")
        assert page.locator("#history-list .history-name").inner_text() == names[2]

        page.set_viewport_size(PHONE)
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#history-clear")  # clears what the search shows: queue-2
        page.wait_for_selector("#history-empty:not([hidden])")
        page.fill("#history-search", "")
        page.wait_for_function("() => document.querySelectorAll('#history-list .history-name').length >= 1")
        assert names[2] not in page.locator("#history-list .history-name").all_inner_texts()
        assert names[0] in page.locator("#history-list .history-name").all_inner_texts()
        page.locator("#history-list a.history-link", has_text=names[0]).click()
        page.wait_for_selector("#result:not([hidden])")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=str(ARTIFACTS / "web-history-phone.png"), full_page=True)
        assert_accessible(page, "result from history, phone")
        page.emulate_media(color_scheme="dark")
        page.evaluate("() => window.scrollTo(0, 0)")
        wave = page.locator("#waveform").evaluate("n => getComputedStyle(n).getPropertyValue('--wave').trim()")
        assert wave == "#7d8598"  # the dark theme's waveform colour, readable on the dark track
        page.screenshot(path=str(ARTIFACTS / "web-history-phone-dark.png"), full_page=True)
        assert_accessible(page, "result from history, phone, dark")
        assert errors.errors == []
    finally:
        context.close()


# Uploads a one-byte file with api.js's XHR upload and answers the status it failed with.
UPLOAD_STATUS_JS = """async () => {
  const a = await import("/static/js/api.js");
  try {
    await a.uploadFile(new File(["x"], "x.wav", {type: "audio/wav"})).promise;
    return 200;
  } catch (error) {
    return error.status;
  }
}"""


def test_key_prompt_sends_the_key_and_an_editor_corrects_a_result(browser: Any, server_url: str, song: Path) -> None:
    """js/access.js asks for a key on a 401 and js/api.js then sends it with every API call, fetch
    and upload alike; js/feedback.js sends a correction. The 401 comes from a route stand-in for ``GET /models`` (this server runs
    in open mode, which ignores keys)."""
    seen: list[str] = []

    def gate(route: Any) -> None:
        authorization = route.request.headers.get("authorization", "")
        seen.append(authorization)
        if not authorization:
            route.fulfill(status=401, json={"title": "Unauthorized", "detail": "needs a key", "status": 401})
        else:
            route.continue_()

    created = httpx.post(
        f"{server_url}/api/v1/classify", files={"file": (song.name, song.read_bytes(), "audio/wav")}, timeout=120
    )
    assert created.status_code == 200, created.text
    result = created.json()
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/api/v1/models", gate)
    uploads: list[str] = []

    def refuse_upload(route: Any) -> None:
        uploads.append(route.request.headers.get("authorization", ""))
        route.fulfill(status=415, json={"title": "Not audio", "detail": "stand-in", "status": 415})

    context.route("**/api/v1/classify", refuse_upload)
    page = context.new_page()
    errors = PageErrors(page)
    try:
        page.goto(f"{server_url}/#/r/{result['id']}")
        page.wait_for_selector("dialog.key-dialog[open]")
        page.fill("#key-input", "gk_browser-test-key")
        page.click("dialog.key-dialog button[type=submit]")
        page.wait_for_selector("#result:not([hidden])")
        assert seen[0] == "" and "Bearer gk_browser-test-key" in seen
        page.wait_for_selector(".feedback:not([hidden]) #feedback-genre option[value]:not([value=''])", state="attached")
        assert page.eval_on_selector("#feedback-genre", "s => s.value") == ""  # nothing preselected: the editor chooses
        assert page.is_disabled(".feedback-form button[type=submit]")
        options = page.eval_on_selector_all("#feedback-genre option", "os => os.map(o => [o.value, o.textContent])")[1:]
        assert result["genres"][0]["genre"] not in [value for value, _ in options]  # not the predicted genre
        assert all(text[0].isupper() and text != "Hiphop" for _, text in options)  # worded as on the page
        page.select_option("#feedback-genre", options[-1][0])
        page.click(".feedback-form button[type=submit]")
        page.wait_for_function("() => /Thanks: marked as/.test(document.querySelector('.feedback-status').textContent)")
        page.click("#feedback-undo")
        page.wait_for_function("() => /taken back/.test(document.querySelector('.feedback-status').textContent)")
        status = page.evaluate(UPLOAD_STATUS_JS)
        assert status == 415 and uploads == ["Bearer gk_browser-test-key"]  # the XHR upload carries the key too
        assert errors.errors == []
    finally:
        context.close()
