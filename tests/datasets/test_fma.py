from __future__ import annotations

import csv
from pathlib import Path

import pytest

from genrekit.datasets import fma_audio_path, load_dataset, load_fma
from genrekit.errors import DatasetError, InvalidParameterError

from .helpers import touch

# (track id, subset, split, genre_top, artist id): a few rows in FMA's own spelling.
ROWS = [
    (2, "small", "training", "Hip-Hop", "1"),
    (5, "small", "validation", "Hip-Hop", "1"),
    (10, "small", "test", "Pop", "6"),
    (140, "medium", "training", "Folk", "54"),
    (1234, "large", "training", "Rock", "77"),
    (3000, "large", "test", "", "80"),  # no top genre: skipped
    (123456, "medium", "test", "Old-Time / Historic", "999"),
]


def write_tracks_csv(path: Path, *, index_row: bool = True) -> None:
    """A tracks.csv shaped like FMA's: two header rows (MultiIndex) and the index-name row."""
    columns = [
        ("album", "title"),
        ("artist", "id"),
        ("artist", "bio"),
        ("set", "split"),
        ("set", "subset"),
        ("track", "genre_top"),
        ("track", "title"),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", *(c[0] for c in columns)])
        writer.writerow(["", *(c[1] for c in columns)])
        if index_row:
            writer.writerow(["track_id", *([""] * len(columns))])
        for track_id, subset, split, genre, artist in ROWS:
            bio = "line one\nline two, with a comma"
            writer.writerow([track_id, "Album", artist, bio, split, subset, genre, f"Song {track_id}"])


@pytest.fixture
def fma_root(tmp_path):
    write_tracks_csv(tmp_path / "fma_metadata" / "tracks.csv")
    for track_id, *_ in ROWS:
        touch(fma_audio_path(tmp_path / "fma_large", track_id))
    return tmp_path


def test_fma_audio_path():
    assert fma_audio_path(Path("fma_small"), 2) == Path("fma_small/000/000002.mp3")
    assert fma_audio_path(Path("fma_small"), 123456) == Path("fma_small/123/123456.mp3")


@pytest.mark.parametrize(("subset", "expected"), [("small", 3), ("medium", 5), ("large", 6), ("full", 6)])
def test_subsets_are_cumulative(fma_root, subset, expected):
    records = load_fma(fma_root / "fma_metadata", fma_root / "fma_large", subset)
    assert len(records) == expected


def test_fields(fma_root):
    records = {r.track_id: r for r in load_fma(fma_root / "fma_metadata", fma_root / "fma_large", "large")}
    assert "003000" not in records  # no top genre
    assert records["000002"].label == "Hip-Hop"
    assert records["000002"].split == "train"
    assert records["000005"].split == "valid"
    assert records["000010"].split == "test"
    assert records["000002"].group == records["000005"].group == "artist:1"
    assert records["123456"].label == "Old-Time / Historic"
    assert records["001234"].path == fma_root / "fma_large" / "001" / "001234.mp3"
    assert all(r.source == "fma" for r in records.values())


def test_without_index_name_row(tmp_path):
    write_tracks_csv(tmp_path / "fma_metadata" / "tracks.csv", index_row=False)
    touch(fma_audio_path(tmp_path / "fma_small", 2))
    with pytest.warns(UserWarning, match="skipped 2"):
        records = load_fma(tmp_path / "fma_metadata", tmp_path / "fma_small", "small")
    assert [r.track_id for r in records] == ["000002"]


def test_missing_audio(fma_root):
    fma_audio_path(fma_root / "fma_large", 10).unlink()
    with pytest.warns(UserWarning, match="skipped 1"):
        records = load_fma(fma_root / "fma_metadata", fma_root / "fma_large", "small")
    assert [r.track_id for r in records] == ["000002", "000005"]
    with pytest.raises(DatasetError, match="1 audio files missing"):
        load_fma(fma_root / "fma_metadata", fma_root / "fma_large", "small", on_missing="error")
    assert len(load_fma(fma_root / "fma_metadata", fma_root / "fma_large", "small", on_missing="keep")) == 3


def test_errors(tmp_path, fma_root):
    with pytest.raises(InvalidParameterError):
        load_fma(fma_root / "fma_metadata", fma_root / "fma_large", "tiny")
    with pytest.raises(DatasetError, match="audio folder"):
        load_fma(fma_root / "fma_metadata", fma_root / "fma_small", "small")
    bad = tmp_path / "bad" / "tracks.csv"
    touch(bad, b"a,b\nc,d\n1,2\n")
    with pytest.raises(DatasetError, match="column"):
        load_fma(bad.parent, fma_root / "fma_large", "small")


def test_load_dataset_detects_fma(fma_root):
    dataset = load_dataset(fma_root)
    assert dataset.layout == "fma"
    assert dataset.info == {"subset": "large"}
    assert len(dataset) == 6
    small = load_dataset(fma_root, subset="small")  # small subset read from the fma_large audio
    assert len(small) == 3 and small.name == "fma_small"
