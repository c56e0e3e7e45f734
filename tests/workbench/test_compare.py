"""Fold planning of ``genrekit compare``: scored tracks are never given to the trainer."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from genrekit.datasets.records import TrackRecord
from genrekit.errors import InvalidParameterError
from genrekit.workbench.compare import CompareSettings, plan_folds, run_comparison
from genrekit.training.folds import family_overrides, write_manifest


def _records(with_test: bool = False, with_splits: bool = True):
    out = []
    for label in ("blues", "jazz", "rock"):
        for i in range(10):
            split = None
            if with_splits:
                split = "valid" if i < 3 else "train"
                if with_test and i >= 8:
                    split = "test"
            out.append(TrackRecord(path=Path(f"/d/{label}/{label}.{i:05d}.wav"), label=label, split=split))
    return out


def test_cv_folds_partition_train_and_valid_and_leave_test_untouched():
    records = _records(with_test=True)
    folds, protocol = plan_folds(records, CompareSettings(cv=4, valid_fraction=0.25))
    assert len(folds) == 4 and protocol["n_folds"] == 4 and protocol["test_tracks_left_untouched"] == 6
    scored = Counter(r.track_id for _, f in folds for r in f["test"])
    assert sorted(scored) == sorted(r.track_id for r in records if r.split != "test")
    assert set(scored.values()) == {1}
    for _, f in folds:
        used = {r.track_id for r in f["train"] + f["valid"]}
        assert not used & {r.track_id for r in f["test"]}
        assert {r.label for r in f["train"]} == {"blues", "jazz", "rock"}
        assert f["valid"]


def test_single_split_without_test_scores_valid_and_carves_validation_from_train():
    records = _records()
    folds, protocol = plan_folds(records, CompareSettings(cv=None, scheme="dataset"))
    (_, fold), = folds
    assert protocol["scored_side"] == "valid"
    assert {r.track_id for r in fold["test"]} == {r.track_id for r in records if r.split == "valid"}
    assert all(r.split == "train" for r in fold["train"] + fold["valid"])
    assert len(fold["valid"]) == 4 and len(fold["train"]) == 17


def test_single_split_with_test_scores_test():
    folds, protocol = plan_folds(_records(with_test=True), CompareSettings(cv=None, scheme="dataset"))
    assert protocol["scored_side"] == "test"
    assert all(r.split == "test" for r in folds[0][1]["test"])


def test_random_single_split_on_unsplit_data():
    folds, protocol = plan_folds(_records(with_splits=False), CompareSettings(cv=None, scheme="random", test_fraction=0.2))
    assert protocol["scored_side"] == "test" and len(folds[0][1]["test"]) == 6


def test_manifest_lists_train_and_valid_only(tmp_path):
    records = _records(with_test=True)
    folds, _ = plan_folds(records, CompareSettings(cv=None, scheme="dataset"))
    path = write_manifest(tmp_path / "m.csv", folds[0][1])
    rows = list(csv.DictReader(path.open()))
    assert {r["split"] for r in rows} == {"train", "valid"}
    assert len(rows) == 24
    assert not {r["track_id"] for r in rows} & {r.track_id for r in folds[0][1]["test"]}


def test_unknown_family_is_rejected():
    with pytest.raises(InvalidParameterError, match="unknown families"):
        run_comparison(_records(), CompareSettings(families=("knn", "banjo")))


def test_cross_dataset_plan_trains_on_train_valid_and_scores_known_labels_of_the_other():
    train_data = _records(with_test=True)
    other = [
        TrackRecord(path=Path(f"/x/{label}/{i}.flac"), label=label, track_id=f"x/{label}/{i}")
        for label in ("blues", "jazz", "polka")
        for i in range(3)
    ]
    folds, protocol = plan_folds(train_data, CompareSettings(cv=None), test_records=other)
    (_, fold), = folds
    assert {r.split for r in fold["train"]} == {"train"} and {r.split for r in fold["valid"]} == {"valid"}
    assert len(fold["train"]) + len(fold["valid"]) == 24  # the 6 test-split tracks stay out
    assert [r.label for r in fold["test"]] == ["blues"] * 3 + ["jazz"] * 3
    assert protocol["scored tracks left out (label unknown to training)"] == ["polka: 3"]


def test_family_overrides_apply_to_all_or_to_one_family():
    items = ("seed=3", "cnn2d_logmel:epochs=5", "knn:model.n_neighbors=3")
    assert family_overrides(items, "cnn2d_logmel") == ["seed=3", "epochs=5"]
    assert family_overrides(items, "knn") == ["seed=3", "model.n_neighbors=3"]
    assert family_overrides(items, "svm") == ["seed=3"]
