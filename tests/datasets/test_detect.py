from __future__ import annotations

import pytest

from genrekit.datasets import detect_layout, load_dataset
from genrekit.errors import DatasetError, InvalidParameterError

from .helpers import touch


def test_detect_each_layout(tmp_path):
    touch(tmp_path / "gtzan" / "genres_original" / "rock" / "rock.00001.wav")
    touch(tmp_path / "lib" / "rock" / "song.mp3")
    touch(tmp_path / "pool" / "rock" / "song.flac")
    (tmp_path / "pool" / "manifest.csv").write_text("file,genre\nrock/song.flac,rock\n")
    touch(tmp_path / "fma" / "fma_metadata" / "tracks.csv")
    assert detect_layout(tmp_path / "gtzan") == "gtzan"
    assert detect_layout(tmp_path / "lib") == "folder"
    assert detect_layout(tmp_path / "pool") == "manifest"
    assert detect_layout(tmp_path / "pool" / "manifest.csv") == "manifest"
    assert detect_layout(tmp_path / "fma") == "fma"
    with pytest.raises(DatasetError, match="not found"):
        detect_layout(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="not a .csv"):
        detect_layout(tmp_path / "lib" / "rock" / "song.mp3")


def test_load_dataset_split_schemes(tmp_path):
    touch(tmp_path / "train" / "blues" / "blues.00029.wav")
    touch(tmp_path / "valid" / "blues" / "blues.00012.wav")  # in the filtered test list
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "gtzan" and dataset.info == {"gtzan_layout": "split_folders"}
    assert [r.split for r in dataset] == ["valid", "train"]
    assert [r.split for r in load_dataset(tmp_path, split_scheme="filtered")] == ["test", "train"]
    assert [r.split for r in load_dataset(tmp_path, split_scheme="none")] == [None, None]
    with pytest.raises(InvalidParameterError):
        load_dataset(tmp_path, split_scheme="random")
    with pytest.raises(InvalidParameterError, match="FMA only"):
        load_dataset(tmp_path, subset="small")


def test_filtered_scheme_needs_gtzan(tmp_path):
    touch(tmp_path / "rock" / "a.wav")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "folder" and dataset.name == tmp_path.name and dataset.labels == ["rock"]
    with pytest.raises(InvalidParameterError, match="GTZAN only"):
        load_dataset(tmp_path, split_scheme="filtered")


def test_manifest_dataset_root_is_the_csv_folder(tmp_path):
    touch(tmp_path / "data" / "a.wav")
    (tmp_path / "data" / "tracks.csv").write_text("path,label\na.wav,rock\n")
    dataset = load_dataset(tmp_path / "data" / "tracks.csv")
    assert dataset.root == (tmp_path / "data").resolve()
    assert dataset.name == "tracks"
    assert dataset.records[0].path == (tmp_path / "data").resolve() / "a.wav"
