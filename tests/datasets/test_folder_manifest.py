from __future__ import annotations

import pytest

from genrekit.datasets import load_folder, load_manifest
from genrekit.errors import DatasetError, InvalidParameterError

from .helpers import touch, write_audio


def test_load_folder_labels_and_nested_files(tmp_path):
    touch(tmp_path / "rock" / "album" / "01.mp3")
    touch(tmp_path / "rock" / "02.FLAC")
    touch(tmp_path / "jazz" / "x.ogg")
    touch(tmp_path / "jazz" / "cover.jpg")
    touch(tmp_path / "jazz" / ".hidden.wav")
    touch(tmp_path / "loose.wav")  # not in a label folder
    records = load_folder(tmp_path)
    assert [(r.label, r.track_id) for r in records] == [
        ("jazz", "jazz/x"),
        ("rock", "rock/02"),
        ("rock", "rock/album/01"),
    ]
    assert all(r.group is None and r.split is None and r.source == "folder" for r in records)


def test_load_folder_with_split_folders(tmp_path):
    touch(tmp_path / "train" / "rock" / "a.wav")
    touch(tmp_path / "test" / "rock" / "b.wav")
    records = load_folder(tmp_path)
    assert [(r.track_id, r.split) for r in records] == [("test/rock/b", "test"), ("train/rock/a", "train")]


def test_load_folder_sniff_finds_audio_by_content(tmp_path):
    write_audio(tmp_path / "rock" / "no_extension", fmt="WAV")
    touch(tmp_path / "rock" / "fake.wav", b"just some text, not audio\n")
    assert [r.track_id for r in load_folder(tmp_path)] == ["rock/fake"]
    assert [r.track_id for r in load_folder(tmp_path, sniff=True)] == ["rock/no_extension"]


def test_load_folder_empty(tmp_path):
    touch(tmp_path / "rock" / "notes.txt")
    with pytest.raises(DatasetError, match="no audio"):
        load_folder(tmp_path)


def test_manifest_generic_columns(tmp_path):
    touch(tmp_path / "audio" / "a.wav")
    touch(tmp_path / "b.flac")
    (tmp_path / "list.csv").write_text(
        "path,label,split,group\naudio/a.wav,rock,training,artist1\n" + f"{tmp_path / 'b.flac'},jazz,,\n\n"
    )
    records = load_manifest(tmp_path / "list.csv")
    assert [(r.label, r.track_id, r.split, r.group) for r in records] == [
        ("jazz", str((tmp_path / "b").as_posix()), None, None),
        ("rock", "audio/a", "train", "artist1"),
    ]
    assert records[1].path == tmp_path / "audio" / "a.wav"
    assert all(r.source == "manifest" for r in records)


def test_manifest_extra_pool_format(tmp_path):
    touch(tmp_path / "blues" / "x.flac")
    (tmp_path / "manifest.csv").write_text(
        'file,genre,source_repo,source_path,duration_s\nblues/x.flac,blues,owner/repo,"a,b.mp3",20.0\n'
    )
    (record,) = load_manifest(tmp_path / "manifest.csv")
    assert (record.label, record.group, record.track_id) == ("blues", "owner/repo", "blues/x")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("name,label\na.wav,rock\n", "no path column"),
        ("path,label,split\na.wav,rock,holdout\n", r"list.csv:2: unknown split"),
        ("path,label\na.wav,\n", r"list.csv:2: empty path or label"),
        ("path,label\na.wav,rock\na.wav,jazz\n", r"list.csv:3: a.wav already listed on line 2"),
        ("path,label\nmissing.wav,rock\n", "1 listed files do not exist"),
        ("", "empty"),
    ],
)
def test_manifest_errors(tmp_path, text, match):
    touch(tmp_path / "a.wav")
    (tmp_path / "list.csv").write_text(text)
    with pytest.raises(DatasetError, match=match):
        load_manifest(tmp_path / "list.csv")


def test_manifest_missing_files_kept_or_skipped(tmp_path):
    (tmp_path / "list.csv").write_text("path,label\nmissing.wav,rock\n")
    assert load_manifest(tmp_path / "list.csv", on_missing="skip") == []
    assert [r.track_id for r in load_manifest(tmp_path / "list.csv", on_missing="keep")] == ["missing"]
    with pytest.raises(InvalidParameterError):
        load_manifest(tmp_path / "list.csv", on_missing="ignore")
