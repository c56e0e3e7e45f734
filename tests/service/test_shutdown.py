"""Shutting down with background timelines running: they get ``timeline_shutdown_wait_s`` to
finish (a rolling update loses no work), and are cancelled after it."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from genrekit.service import create_app
from tests.service.conftest import FakeClassifier, make_settings, make_wav, upload

STEP_DELAY_S = 0.3  # the fake classifier's time per call: the 2-step timeline takes about 0.6 s


def _stored_after_shutdown(tmp_path: Path, wait_s: float) -> dict:
    """Upload a song, stop the app at once, and read its result back from a fresh app."""
    # deployed: no audio is kept, so a timeline cut short cannot resume later from it
    settings = make_settings(tmp_path, timeline_shutdown_wait_s=wait_s, deployment="deployed")
    with TestClient(create_app(settings, classifier=FakeClassifier(delay_s=STEP_DELAY_S, spread_windows=2))) as client:
        quick = upload(client, make_wav(12.0)).json()
        assert quick["complete"] is False
    with TestClient(create_app(settings, classifier=FakeClassifier())) as client:
        return client.get(f"/api/v1/classifications/{quick['id']}").json()


def test_shutdown_waits_for_running_timelines(tmp_path: Path) -> None:
    stored = _stored_after_shutdown(tmp_path, wait_s=30.0)
    assert stored["complete"] is True
    assert [s["start_s"] for s in stored["segments"]] == [float(i) for i in range(12)]


def test_shutdown_without_a_wait_cancels_them(tmp_path: Path) -> None:
    stored = _stored_after_shutdown(tmp_path, wait_s=0.0)
    assert stored["complete"] is False
