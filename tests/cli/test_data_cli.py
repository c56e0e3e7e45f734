from __future__ import annotations

import json

import pytest

from genrekit.cli.main import main
from tests.datasets.helpers import corrupt_wav_bytes, touch, write_audio


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "lib"
    write_audio(root / "train" / "rock" / "a.wav", duration_s=4.0, freq_hz=300.0)
    write_audio(root / "train" / "jazz" / "b.wav", duration_s=4.0, freq_hz=400.0)
    write_audio(root / "test" / "rock" / "c.flac", duration_s=4.0, freq_hz=500.0)
    return root


def test_list_text(library, capsys):
    assert main(["data", "list", str(library)]) == 0
    out = capsys.readouterr().out
    assert "layout  folder" in out
    assert "tracks  3 in 2 labels" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[-4:]}
    assert rows == {
        "label": ["train", "test", "total"],
        "jazz": ["1", "0", "1"],
        "rock": ["1", "1", "2"],
        "total": ["2", "1", "3"],
    }


def test_list_json_with_split_filter(library, capsys):
    assert main(["data", "list", str(library), "--format", "json", "--split", "train", "--tracks"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_tracks"] == 2 and out["layout"] == "folder"
    assert out["counts"] == {"jazz": {"train": 1}, "rock": {"train": 1}}
    assert [t["track_id"] for t in out["tracks"]] == ["train/jazz/b", "train/rock/a"]
    assert len(out["fingerprint"]) == 64


def test_list_errors(tmp_path, capsys):
    assert main(["data", "list", str(tmp_path / "missing")]) == 1
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as excinfo:
        main(["data", "list", str(tmp_path), "--split", "holdout"])
    assert excinfo.value.code == 2


def test_check_clean(library, capsys):
    assert main(["data", "check", str(library), "--jobs", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "checked 3 files" in out and "no problems found" in out


def test_check_reports_problems(library, capsys):
    touch(library / "train" / "rock" / "broken.wav", corrupt_wav_bytes())
    touch(library / "train" / "jazz" / "notes.wav", b"plain text\n")
    write_audio(library / "test" / "jazz" / "tiny.wav", duration_s=0.5)
    (library / "test" / "rock" / "copy.wav").write_bytes((library / "train" / "rock" / "a.wav").read_bytes())
    assert main(["data", "check", str(library), "--jobs", "1", "--no-progress", "--min-duration", "1"]) == 1
    out = capsys.readouterr().out
    assert "corrupt" in out and "broken.wav" in out
    assert "not_audio" in out and "notes.wav" in out
    assert "short" in out and "tiny.wav" in out
    assert "duplicate" in out and "same audio as" in out
    assert "4 files with problems: 1 not audio, 1 corrupt, 1 short, 1 duplicate" in out


def test_check_json(library, capsys):
    write_audio(library / "train" / "jazz" / "tiny.wav", duration_s=0.5)
    assert main(["data", "check", str(library), "--jobs", "1", "--no-progress", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["n_files"] == 4 and report["ok"] is False
    assert [p["kind"] for p in report["problems"]] == ["short"]
    assert report["min_duration_s"] == 3.0


def test_check_usage_errors(library):
    for argv in (
        ["data", "check", str(library), "--jobs", "0"],
        ["data", "check", str(library), "--min-duration", "-2"],
    ):
        with pytest.raises(SystemExit) as excinfo:
            main(argv)
        assert excinfo.value.code == 2
    assert main(["data"]) == 2
