from __future__ import annotations

import pytest

from genrekit.datasets import (
    GTZAN_GENRES,
    find_gtzan_layout,
    gtzan_filtered_split_of,
    gtzan_filtered_splits,
    load_gtzan,
)
from genrekit.errors import DatasetError, InvalidParameterError

from .helpers import touch

# blues.00029 is in the filtered train list, blues.00012 in test, reggae.00086 is a known
# exact repeat that the filtered lists leave out.
IDS = ("blues.00029", "blues.00012", "reggae.00086")


def test_filtered_lists_sizes_and_disjointness():
    splits = gtzan_filtered_splits()
    assert {k: len(v) for k, v in splits.items()} == {"train": 443, "valid": 197, "test": 290}
    all_ids = [i for ids in splits.values() for i in ids]
    assert len(set(all_ids)) == 930
    assert all(i.split(".")[0] in GTZAN_GENRES for i in all_ids)
    assert splits["train"][0] == "blues.00029"
    assert gtzan_filtered_split_of()["blues.00012"] == "test"
    assert "reggae.00086" not in gtzan_filtered_split_of()


def test_filtered_splits_returns_a_copy():
    gtzan_filtered_splits()["train"].clear()
    assert len(gtzan_filtered_splits()["train"]) == 443


@pytest.mark.parametrize(("subdir", "ext"), [("genres_original", ".wav"), ("genres", ".au"), ("", ".wav")])
def test_load_gtzan_genre_layouts_use_filtered_lists(tmp_path, subdir, ext):
    folder = tmp_path / subdir if subdir else tmp_path
    for track_id in IDS:
        touch(folder / track_id.split(".")[0] / f"{track_id}{ext}")
    touch(folder / "blues" / "notes.txt")
    records = load_gtzan(tmp_path)
    assert [r.track_id for r in records] == ["blues.00012", "blues.00029", "reggae.00086"]
    assert [r.split for r in records] == ["test", "train", None]
    assert [r.label for r in records] == ["blues", "blues", "reggae"]
    assert all(r.group is None and r.source == "gtzan" for r in records)
    assert find_gtzan_layout(tmp_path) == ("genres", folder)
    assert [r.split for r in load_gtzan(tmp_path, split="none")] == [None, None, None]


def test_load_gtzan_split_folders(tmp_path):
    touch(tmp_path / "train" / "blues" / "blues.00029.flac")
    touch(tmp_path / "valid" / "reggae" / "reggae.00086.flac")
    touch(tmp_path / "test" / "blues" / "blues.00012.flac")
    records = load_gtzan(tmp_path)
    assert [(r.track_id, r.split) for r in records] == [
        ("blues.00012", "test"),
        ("blues.00029", "train"),
        ("reggae.00086", "valid"),
    ]
    filtered = load_gtzan(tmp_path, split="filtered")
    assert [r.split for r in filtered] == ["test", "train", None]


def test_load_gtzan_errors(tmp_path):
    with pytest.raises(DatasetError, match="not a GTZAN folder"):
        load_gtzan(tmp_path)
    touch(tmp_path / "genres" / "rock" / "rock.00001.au")
    with pytest.raises(InvalidParameterError, match="folder"):
        load_gtzan(tmp_path, split="folder")
    with pytest.raises(InvalidParameterError):
        load_gtzan(tmp_path, split="random")
    touch(tmp_path / "genres" / "jazz" / "rock.00002.au")
    with pytest.raises(DatasetError, match="lies in"):
        load_gtzan(tmp_path)


def test_load_gtzan_rejects_a_track_twice(tmp_path):
    touch(tmp_path / "train" / "rock" / "rock.00001.wav")
    touch(tmp_path / "test" / "rock" / "rock.00001.wav")
    with pytest.raises(DatasetError, match="twice"):
        load_gtzan(tmp_path)
