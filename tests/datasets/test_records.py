from __future__ import annotations

from pathlib import Path

import pytest

from genrekit.datasets import Dataset, TrackRecord, dataset_fingerprint, normalize_split, sort_records
from genrekit.errors import DatasetError, InvalidParameterError

from .helpers import touch


def test_track_record_defaults_and_coercion():
    record = TrackRecord("a/blues/blues.00001.wav", "blues")
    assert record.path == Path("a/blues/blues.00001.wav")
    assert record.track_id == "blues.00001"
    assert record.group is None and record.split is None
    assert record.to_dict()["path"] == "a/blues/blues.00001.wav"


@pytest.mark.parametrize(
    "kwargs",
    [{"label": ""}, {"label": "rock", "split": "training"}, {"label": "rock", "group": 3}],
)
def test_track_record_rejects_bad_fields(kwargs):
    with pytest.raises(InvalidParameterError):
        TrackRecord(Path("x.wav"), **kwargs)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("training", "train"), ("Validation", "valid"), ("val", "valid"), (" test ", "test"), ("", None), (None, None)],
)
def test_normalize_split(raw, expected):
    assert normalize_split(raw) == expected


def test_normalize_split_rejects_unknown():
    with pytest.raises(InvalidParameterError, match="unknown split"):
        normalize_split("holdout")


def test_sort_records_is_by_label_then_id():
    records = [
        TrackRecord(Path("z/b.wav"), "rock"),
        TrackRecord(Path("a/c.wav"), "jazz"),
        TrackRecord(Path("y/a.wav"), "rock"),
    ]
    assert [r.track_id for r in sort_records(records)] == ["c", "a", "b"]


def test_fingerprint_depends_on_relative_path_size_and_label(tmp_path):
    for root in (tmp_path / "one", tmp_path / "two"):
        touch(root / "rock" / "a.wav", b"12345")
        touch(root / "jazz" / "b.wav", b"1")
    one = [
        TrackRecord(tmp_path / "one" / "rock" / "a.wav", "rock"),
        TrackRecord(tmp_path / "one" / "jazz" / "b.wav", "jazz"),
    ]
    two = [
        TrackRecord(tmp_path / "two" / "jazz" / "b.wav", "jazz"),
        TrackRecord(tmp_path / "two" / "rock" / "a.wav", "rock"),
    ]
    base = dataset_fingerprint(one, tmp_path / "one")
    assert len(base) == 64
    assert dataset_fingerprint(two, tmp_path / "two") == base  # moved and reordered: same dataset
    relabelled = [TrackRecord(one[0].path, "pop"), one[1]]
    assert dataset_fingerprint(relabelled, tmp_path / "one") != base
    (tmp_path / "one" / "rock" / "a.wav").write_bytes(b"123456")
    assert dataset_fingerprint(one, tmp_path / "one") != base


def test_dataset_helpers(tmp_path):
    records = (
        TrackRecord(tmp_path / "a.wav", "rock", split="train"),
        TrackRecord(tmp_path / "b.wav", "rock", split="test"),
        TrackRecord(tmp_path / "c.wav", "jazz"),
    )
    dataset = Dataset(records=records, name="d", root=tmp_path, layout="folder")
    assert len(dataset) == 3 and list(dataset) == list(records)
    assert dataset.labels == ["jazz", "rock"]
    assert [r.track_id for r in dataset.by_split("training")] == ["a"]
    assert [r.track_id for r in dataset.by_split(None)] == ["c"]
    assert dataset.counts() == {"jazz": {"none": 1}, "rock": {"test": 1, "train": 1}}
    assert dataset.fingerprint == dataset_fingerprint(records, tmp_path)


def test_empty_dataset_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="no tracks"):
        Dataset(records=(), name="empty", root=tmp_path, layout="folder")
