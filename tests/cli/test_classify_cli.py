"""Tests of ``genrekit classify`` with a tiny bundle: json/csv/table outputs parse, directories
are walked, a corrupt file fails alone (exit code 1), usage errors exit 2."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import soundfile as sf

from genrekit.cli.classify import compact_timeline, describe_shares, describe_uncertainty, expand_inputs, format_time
from genrekit.cli.main import main
from genrekit.predict import GenreScore, Reliability, Segment, Uncertainty
from tests.predict.test_classifier import TINY_LABELS, TINY_SR, music_like, save_tiny_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_tiny_bundle(tmp_path_factory.mktemp("cli-bundle") / "tiny"))


@pytest.fixture()
def music_dir(tmp_path: Path) -> Path:
    root = tmp_path / "music"
    (root / "album").mkdir(parents=True)
    (root / ".hidden").mkdir()
    sf.write(root / "a.wav", music_like(2.5, seed=1), TINY_SR)
    sf.write(root / "album" / "b.flac", music_like(3.0, seed=2), TINY_SR)
    sf.write(root / ".hidden" / "c.wav", music_like(1.0), TINY_SR)
    (root / "notes.txt").write_text("not audio, skipped by extension")
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["classify", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_output_is_one_array_in_the_result_schema(capsys, bundle: str, music_dir: Path) -> None:
    code, out, err = run(capsys, "--model", bundle, "--format", "json", "--top", "2", str(music_dir))
    assert code == 0, err
    items = json.loads(out)
    assert [Path(i["name"]).name for i in items] == ["a.wav", "b.flac"]  # sorted walk, hidden skipped
    first = items[0]
    assert {g["genre"] for g in first["genres"]} == set(TINY_LABELS)
    assert sum(g["score"] for g in first["genres"]) == pytest.approx(1.0, abs=1e-4)
    assert len(first["tags"]) == 2
    assert first["model"] == {"name": "tiny-test", "version": "0.0.1"}
    assert first["segments"][-1]["end_s"] == pytest.approx(first["duration_s"])
    assert first["uncertainty"]["level"] in ("confident", "mixed", "unknown")
    assert first["uncertainty"]["ood_score"] is None  # the tiny bundle has no out-of-taxonomy score


def test_corrupt_file_fails_alone_with_exit_code_1(capsys, bundle: str, music_dir: Path) -> None:
    (music_dir / "broken.mp3").write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00garbage" * 64)
    code, out, err = run(capsys, "--model", bundle, "--format", "json", str(music_dir), str(music_dir / "missing.wav"))
    assert code == 1
    items = json.loads(out)
    by_name = {Path(i["name"]).name: i for i in items}
    assert set(by_name) == {"a.wav", "b.flac", "broken.mp3", "missing.wav"}
    assert "genres" in by_name["a.wav"] and "genres" in by_name["b.flac"]
    assert set(by_name["broken.mp3"]["error"]) == {"type", "message"}
    assert by_name["missing.wav"]["error"]["type"] == "FileNotFoundError"
    assert "broken.mp3" in err and "missing.wav" in err


def test_csv_output_has_one_row_per_input(capsys, bundle: str, music_dir: Path) -> None:
    (music_dir / "zz-bad.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt junk")
    code, out, _ = run(capsys, "--model", bundle, "--format", "csv", str(music_dir))
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [Path(r["name"]).name for r in rows] == ["a.wav", "zz-bad.wav", "b.flac"]  # files before subfolders
    ok = rows[0]
    assert ok["top_genre"] in TINY_LABELS and ok["error"] == ""
    assert sum(float(ok[label]) for label in TINY_LABELS) == pytest.approx(1.0, abs=1e-3)
    assert float(ok["top_score"]) == pytest.approx(max(float(ok[label]) for label in TINY_LABELS))
    assert rows[1]["error"] and rows[1]["top_genre"] == ""
    assert ok["uncertainty"] in ("confident", "mixed", "unknown") and ok["ood_score"] == ""
    assert rows[1]["uncertainty"] == ""


def test_table_output_shows_genres_tags_and_timeline(capsys, bundle: str, music_dir: Path) -> None:
    code, out, _ = run(capsys, "--model", bundle, "--hop", "0.5", str(music_dir / "a.wav"))
    assert code == 0
    assert "a.wav" in out and "timeline: 0:00-0:02" in out and "tags:" in out
    assert "uncertainty: " in out and "whole song, " in out
    assert sum(label in out for label in TINY_LABELS) >= 3


def test_stdin_input(capsys, bundle: str, music_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = (music_dir / "a.wav").read_bytes()

    class FakeStdin:
        buffer = io.BytesIO(data)

    monkeypatch.setattr("sys.stdin", FakeStdin)
    code, out, _ = run(capsys, "--model", bundle, "--format", "json", "-")
    assert code == 0 and json.loads(out)[0]["name"] == "-"


def test_usage_errors_exit_2(capsys, bundle: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["classify", "--model", bundle, "--top", "-1", "x.wav"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["classify", "--model", bundle, "--hop", "0", "x.wav"])
    assert exc.value.code == 2


def test_bad_bundle_exits_1(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "--model", str(tmp_path), "x.wav")
    assert code == 1 and "bundle" in err


def test_empty_directory_is_a_failed_input(capsys, bundle: str, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert list(expand_inputs([str(tmp_path / "empty")]))[0][1] is not None
    code, out, _ = run(capsys, "--model", bundle, "--format", "json", str(tmp_path / "empty"))
    assert code == 1 and "error" in json.loads(out)[0]


def test_timeline_helpers() -> None:
    assert format_time(59.9) == "0:59" and format_time(3725) == "1:02:05"
    segs = [Segment(0, 3, "rock", 0.9), Segment(3, 6, "rock", 0.8), Segment(6, 9, "pop", 0.5), Segment(7, 10, "pop", 0.6)]
    assert compact_timeline(segs) == "0:00-0:06 rock | 0:06-0:10 pop"
    spread = [Segment(28, 31, "reggae", 0.9), Segment(88, 91, "reggae", 0.8), Segment(148, 151, "pop", 0.7)]
    assert compact_timeline(spread) == "0:28-0:31 reggae | 1:28-1:31 reggae | 2:28-2:31 pop"


def test_describe_uncertainty_names_the_close_genres_or_none_of_these() -> None:
    class Result:
        genres = [GenreScore("blues", 0.45), GenreScore("jazz", 0.40), GenreScore("rock", 0.15)]
        uncertainty = Uncertainty(level="mixed", ood_score=0.2)

    assert describe_uncertainty(Result()) == "uncertainty: mixed - blues / jazz (out-of-taxonomy score 0.20)"
    Result.uncertainty = Uncertainty(level="unknown", ood_score=0.93)
    assert "none of these genres" in describe_uncertainty(Result()) and "0.93" in describe_uncertainty(Result())
    Result.uncertainty = Uncertainty(level="confident", ood_score=None)
    assert describe_uncertainty(Result()) == "uncertainty: confident"
    statement = "the right genre is among those named about 9 times in 10 on music from sources it never saw"
    Result.uncertainty = Uncertainty(level="mixed", ood_score=None, named=["blues", "jazz", "rock"],
                                     reliability=Reliability(0.9, 0.85, 0.94, 0.3, statement))
    assert describe_uncertainty(Result()) == f"uncertainty: mixed - blues / jazz / rock; {statement}"


def test_describe_shares_explains_a_headline_most_windows_disagree_with() -> None:
    class Result:
        genres = [GenreScore("rock", 0.40), GenreScore("jazz", 0.36)]
        shares = [GenreScore("rock", 0.30), GenreScore("jazz", 0.52)]

    assert describe_shares(Result()) == "windows: jazz tops 52% of them, rock 30%; rock leads once the windows' scores are combined"
    Result.shares = [GenreScore("rock", 0.5), GenreScore("jazz", 0.5)]
    assert describe_shares(Result()) is None  # a tie is no disagreement
    Result.shares = []
    assert describe_shares(Result()) is None  # results from before shares
