"""The full timeline in the background, and a history that can be searched, renamed, deleted and played."""

from __future__ import annotations

import math
from pathlib import Path

from fastapi.testclient import TestClient

from genrekit.service import create_app
from genrekit.service.work.timeline import STEP_WINDOWS, covered_from_start, merged_segments
from tests.service.conftest import FakeClassifier, assert_problem, make_settings, make_wav, upload, wait_complete

POLL_TIMEOUT_S = 20.0


def test_the_quick_answer_is_followed_by_every_window(tmp_path: Path) -> None:
    classifier = FakeClassifier(spread_windows=2)
    with TestClient(create_app(make_settings(tmp_path), classifier=classifier)) as client:
        quick = upload(client, make_wav(12.0), filename="long.wav").json()
        assert quick["complete"] is False and [s["start_s"] for s in quick["segments"]] == [0.0, 6.0]
        assert quick["timeline"]["state"] in ("running", "complete")
        full = wait_complete(client, quick["id"], POLL_TIMEOUT_S)
        assert full["complete"] is True and full["timeline"] == {"state": "complete", "covered_s": 12.0}
        assert [s["start_s"] for s in full["segments"]] == [float(i) for i in range(12)]
        assert full["genres"] == quick["genres"]  # the fake answers the whole song as it did the quick look
        history = client.get("/api/v1/classifications").json()["data"]
        assert history[0]["complete"] is True
        again = upload(client, make_wav(12.0), filename="long.wav").json()
        assert again["cached"] is True and again["complete"] is True and classifier.n_calls == 1 + math.ceil(12 / STEP_WINDOWS)  # quick answer + steps


def test_a_server_without_full_timelines_keeps_the_spread_windows(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, full_timeline=False)
    with TestClient(create_app(settings, classifier=FakeClassifier(spread_windows=2))) as client:
        quick = upload(client, make_wav(12.0)).json()
        assert quick["timeline"] == {"state": "partial", "covered_s": 1.0}


def test_timeline_helpers() -> None:
    spread = [{"start_s": 0.0, "end_s": 3.0}, {"start_s": 30.0, "end_s": 33.0}, {"start_s": 60.0, "end_s": 63.0}]
    full = [{"start_s": float(i), "end_s": float(i + 3)} for i in range(0, 33, 3)]
    assert covered_from_start(spread) == 3.0 and covered_from_start(full) == 33.0
    assert covered_from_start(spread[1:]) == 0.0
    assert merged_segments(full, spread, 33.0) == [*full, spread[2]]


def test_history_search_rename_and_delete_with_audio(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path), classifier=FakeClassifier())) as client:
        first = upload(client, make_wav(1.0, seed=1), filename="Emo Classical Night.wav").json()
        upload(client, make_wav(1.0, seed=2), filename="rock_100%.wav")
        assert first["has_audio"] is True  # local mode keeps audio
        found = client.get("/api/v1/classifications", params={"q": "classical"}).json()["data"]
        assert [item["id"] for item in found] == [first["id"]]
        assert [i["filename"] for i in client.get("/api/v1/classifications", params={"q": "100%"}).json()["data"]] == [
            "rock_100%.wav"
        ]
        assert client.get("/api/v1/classifications", params={"q": "1%"}).json()["data"] == []  # % is literal
        renamed = upload(client, make_wav(1.0, seed=1), filename="the same song.wav").json()
        assert renamed["cached"] is True and renamed["id"] == first["id"]
        assert renamed["filename"] == renamed["name"] == "the same song.wav"
        assert client.get("/api/v1/classifications", params={"q": "same"}).json()["data"][0]["id"] == first["id"]
        assert client.get(f"/api/v1/classifications/{first['id']}/audio").status_code == 200
        assert client.delete(f"/api/v1/classifications/{first['id']}").status_code == 204
        assert_problem(client.get(f"/api/v1/classifications/{first['id']}"), 404)
        assert_problem(client.get(f"/api/v1/classifications/{first['id']}/audio"), 404)
        assert_problem(client.delete(f"/api/v1/classifications/{first['id']}"), 404)
        assert len(client.get("/api/v1/classifications").json()["data"]) == 1


def test_raw_uploads_get_their_name(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path), classifier=FakeClassifier())) as client:
        octet = {"Content-Type": "application/octet-stream"}
        named = client.post("/api/v1/classify/raw", params={"filename": "dir/take 3.wav"}, content=make_wav(1.0, seed=3), headers=octet)
        assert named.status_code == 200, named.text
        assert named.json()["filename"] == "take 3.wav"
        disposition = {**octet, "Content-Disposition": 'attachment; filename="demo.flac"'}
        assert client.post("/api/v1/classify/raw", content=make_wav(1.0, seed=4), headers=disposition).json()["filename"] == "demo.flac"
        assert_problem(client.post("/api/v1/classify/raw", json={"url": "https://example.org/a.mp3"}), 415)
        assert_problem(client.post("/api/v1/classify/url", content=make_wav(1.0), headers=octet), 415)


def test_kept_audio_has_size_and_age_limits(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, audio_max_file_mb=0.05, audio_max_total_mb=0.1)
    with TestClient(create_app(settings, classifier=FakeClassifier())) as client:
        big = upload(client, make_wav(2.0, seed=5)).json()  # 88 KB > 50 KB: classified, audio not kept
        assert big["has_audio"] is False
        ids = [upload(client, make_wav(0.5, seed=10 + i)).json()["id"] for i in range(6)]  # 22 KB each
        kept = [client.get(f"/api/v1/classifications/{i}").json()["has_audio"] for i in ids]
        assert kept == [False, False, True, True, True, True]  # the newest 100 KB stay


def test_messages_a_person_understands(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path), classifier=FakeClassifier())) as client:
        text = assert_problem(upload(client, b"plain text, not audio\n" * 5, filename="notes.mp3"), 415, "not-audio")
        assert "this file is not audio (it looks like text)" in text["detail"]
        wrong_field = client.post("/api/v1/classify", files={"audio": ("song.wav", make_wav(0.5), "audio/wav")})
        detail = assert_problem(wrong_field, 400)["detail"]
        assert "field 'file'" in detail and "'audio'" in detail


def test_a_timeline_cut_short_resumes_from_the_kept_audio(tmp_path: Path) -> None:
    classifier = FakeClassifier(spread_windows=2)
    with TestClient(create_app(make_settings(tmp_path, full_timeline=False), classifier=classifier)) as before:
        partial = upload(before, make_wav(12.0, seed=8)).json()  # as if the server stopped before the job ran
        assert partial["timeline"]["state"] == "partial"
    with TestClient(create_app(make_settings(tmp_path), classifier=classifier)) as after:
        assert after.get(f"/api/v1/classifications/{partial['id']}").json()["timeline"]["state"] in ("running", "complete")
        full = wait_complete(after, partial["id"], POLL_TIMEOUT_S)
        assert full["complete"] is True and len(full["segments"]) == 12
