"""Loaders on the real data in ../shared/data (skipped where it is absent)."""

from __future__ import annotations

import csv

from collections import Counter

import pytest

from genrekit.datasets import gtzan_filtered_split_of, gtzan_filtered_splits, load_dataset, load_gtzan

pytestmark = pytest.mark.shared_data


def test_gtzan_dev_counts(shared_data):
    dataset = load_dataset(shared_data / "gtzan-dev")
    assert dataset.layout == "gtzan" and dataset.info["gtzan_layout"] == "split_folders"
    assert len(dataset) == 161
    assert Counter(r.split for r in dataset) == {"train": 116, "valid": 45}
    assert dataset.labels == [
        "blues",
        "classical",
        "country",
        "disco",
        "hiphop",
        "jazz",
        "metal",
        "pop",
        "reggae",
        "rock",
    ]
    assert dataset.counts()["classical"] == {"train": 45, "valid": 18}
    assert len({r.track_id for r in dataset}) == 161
    assert all(r.path.suffix == ".flac" and r.path.is_file() for r in dataset)


def test_gtzan_dev_folders_agree_with_filtered_lists(shared_data):
    listed = gtzan_filtered_split_of()
    by_folder = load_gtzan(shared_data / "gtzan-dev", split="folder")
    assert all(listed[r.track_id] == r.split for r in by_folder)
    by_list = load_gtzan(shared_data / "gtzan-dev", split="filtered")
    assert [r.split for r in by_list] == [r.split for r in by_folder]


def test_shipped_split_lists_equal_the_shared_copies(shared_data):
    shipped = gtzan_filtered_splits()
    for split, ids in shipped.items():
        lines = (shared_data / "gtzan-splits" / f"{split}_filtered.txt").read_text().split()
        assert [line.split("/")[1].removesuffix(".wav") for line in lines] == ids
    assert [len(shipped[s]) for s in ("train", "valid", "test")] == [443, 197, 290]


def test_extra_pool_manifest(shared_data):
    from_dir = load_dataset(shared_data / "extra-pool")
    from_csv = load_dataset(shared_data / "extra-pool" / "manifest.csv")
    assert from_dir.layout == from_csv.layout == "manifest"
    with open(shared_data / "extra-pool" / "manifest.csv", newline="") as handle:
        manifest_rows = sum(1 for _ in csv.DictReader(handle))
    assert len(from_dir) == manifest_rows >= 391  # 121 clips until the pool grew (Emotify, 4Q previews)
    assert from_dir.fingerprint == from_csv.fingerprint
    assert from_dir.name == "extra-pool"
    assert all(r.group for r in from_dir)  # source repository as group
    assert Counter(r.group for r in from_dir)["librosa/data"] == 3
    assert "metal" in from_dir.labels and all(r.split is None for r in from_dir)
    assert all(r.path.is_file() for r in from_dir)
