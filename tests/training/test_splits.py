"""Property-style tests of the leak-free split schemes (many seeds, random synthetic records)."""

from __future__ import annotations

from collections import Counter
import numpy as np
import pytest

from genrekit.errors import DatasetError, InvalidParameterError
from genrekit.training.splits import (
    SPLIT_NAMES,
    check_no_leakage,
    iter_folds,
    make_splits,
    segment_random_split,
)

from genrekit.datasets.records import TrackRecord

N_SEEDS = 40
LABELS = ("blues", "classical", "jazz", "metal", "pop")


def _record(path: str, label: str, group: str | None = None, split: str | None = None) -> TrackRecord:
    return TrackRecord(path=path, label=label, group=group, split=split, track_id=path)


def random_records(seed: int, *, with_groups: bool = True) -> list[TrackRecord]:
    """20..80 tracks over 5 labels (unbalanced), about half of them with an artist group."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 81))
    weights = rng.dirichlet(np.ones(len(LABELS)))
    records = []
    for i in range(n):
        label = LABELS[int(rng.choice(len(LABELS), p=weights))]
        group = None
        if with_groups and rng.random() < 0.5:
            group = f"artist{int(rng.integers(0, max(2, n // 4)))}"
        records.append(_record(f"{label}/{label}.{i:05d}.wav", label, group))
    return records


def _sides_of(splits):
    tracks, groups = {}, {}
    for side, recs in splits.items():
        for r in recs:
            tracks.setdefault(r.track_id, set()).add(side)
            if r.group is not None:
                groups.setdefault(r.group, set()).add(side)
    return tracks, groups


def _assert_leak_free(splits, records):
    tracks, groups = _sides_of(splits)
    assert all(len(s) == 1 for s in tracks.values())
    assert all(len(s) == 1 for s in groups.values())
    assert sorted(r.track_id for recs in splits.values() for r in recs) == sorted(r.track_id for r in records)


@pytest.mark.parametrize("scheme", ["random", "kfold", "group_kfold"])
def test_no_track_or_group_on_two_sides_for_many_seeds(scheme):
    for seed in range(N_SEEDS):
        records = random_records(seed)
        kwargs = {"test_fraction": 0.2} if scheme == "random" else {"n_folds": 4, "fold": seed % 4}
        splits = make_splits(records, scheme, seed=seed, valid_fraction=0.2, **kwargs)
        assert set(splits) == set(SPLIT_NAMES)
        _assert_leak_free(splits, records)


@pytest.mark.parametrize("scheme", ["random", "kfold"])
def test_every_label_with_two_units_stays_in_train(scheme):
    for seed in range(N_SEEDS):
        records = random_records(seed, with_groups=False)
        counts = Counter(r.label for r in records)
        kwargs = {"test_fraction": 0.3} if scheme == "random" else {"n_folds": 5, "fold": seed % 5}
        splits = make_splits(records, scheme, seed=seed, valid_fraction=0.3, **kwargs)
        train_labels = {r.label for r in splits["train"]}
        assert {lab for lab, c in counts.items() if c >= 2} <= train_labels


def test_random_split_is_stratified_and_sized():
    records = [_record(f"{lab}/{i}", lab) for lab in LABELS for i in range(10)]
    splits = make_splits(records, "random", seed=3, valid_fraction=0.2, test_fraction=0.2)
    assert [len(splits[s]) for s in SPLIT_NAMES] == [30, 10, 10]
    for side, expected in zip(SPLIT_NAMES, (6, 2, 2)):
        assert Counter(r.label for r in splits[side]) == {lab: expected for lab in LABELS}


@pytest.mark.parametrize("scheme", ["random", "kfold", "group_kfold"])
def test_same_seed_same_split_and_other_seed_differs(scheme):
    records = random_records(7)
    kwargs = {"test_fraction": 0.25} if scheme == "random" else {"n_folds": 3, "fold": 1}
    first = make_splits(records, scheme, seed=11, **kwargs)
    again = make_splits(list(records), scheme, seed=11, **kwargs)
    other = [make_splits(records, scheme, seed=s, **kwargs) for s in range(12, 17)]
    key = lambda sp: {k: [r.track_id for r in v] for k, v in sp.items()}  # noqa: E731
    assert key(first) == key(again)
    assert any(key(o) != key(first) for o in other)


@pytest.mark.parametrize("scheme", ["kfold", "group_kfold"])
def test_iter_folds_test_sides_partition_the_records(scheme):
    for seed in range(10):
        records = random_records(100 + seed)
        seen = Counter()
        n_folds = 0
        for fold, splits in iter_folds(records, scheme, seed=seed, n_folds=4, valid_fraction=0.2):
            assert fold == n_folds
            n_folds += 1
            _assert_leak_free(splits, records)
            seen.update(r.track_id for r in splits["test"])
        assert n_folds == 4
        assert seen == Counter(r.track_id for r in records)


def test_kfold_stratifies_each_fold():
    records = [_record(f"{lab}/{i}", lab) for lab in LABELS for i in range(10)]
    for fold in range(5):
        splits = make_splits(records, "kfold", seed=0, n_folds=5, fold=fold, valid_fraction=0.0)
        assert Counter(r.label for r in splits["test"]) == {lab: 2 for lab in LABELS}
        assert splits["valid"] == []


def test_group_kfold_balances_fold_sizes_by_tracks():
    records = [_record(f"t{i}", LABELS[i % 5], group=f"a{i // 3}") for i in range(60)]
    sizes = [
        len(make_splits(records, "group_kfold", seed=2, n_folds=5, fold=f, valid_fraction=0.0)["test"])
        for f in range(5)
    ]
    assert sizes == [12] * 5


def test_filtered_scheme_uses_the_records_split_and_drops_unlisted():
    records = [
        _record("blues/blues.00000.wav", "blues", split="valid"),
        _record("blues/blues.00001.wav", "blues", split="train"),
        _record("blues/blues.00002.wav", "blues", split="test"),
        _record("blues/blues.00003.wav", "blues", split=None),
        _record("jazz/jazz.00000.wav", "jazz", split="valid"),
    ]
    splits = make_splits(records, "filtered")
    assert [r.track_id for r in splits["train"]] == ["blues/blues.00001.wav"]
    assert [r.track_id for r in splits["valid"]] == ["blues/blues.00000.wav", "jazz/jazz.00000.wav"]
    assert [r.track_id for r in splits["test"]] == ["blues/blues.00002.wav"]


def test_filtered_without_any_split_field_is_an_error():
    with pytest.raises(DatasetError, match="split field"):
        make_splits([_record("a", "blues"), _record("b", "jazz")], "filtered")


def test_dataset_scheme_rejects_a_split_that_leaks_an_artist():
    records = [_record("a", "blues", group="x", split="train"), _record("b", "blues", group="x", split="test")]
    with pytest.raises(DatasetError, match="group 'x'"):
        make_splits(records, "dataset")


def test_check_no_leakage_raises_on_shared_track_and_passes_otherwise():
    a, b = _record("a", "blues"), _record("b", "jazz")
    check_no_leakage({"train": [a], "test": [b]})
    with pytest.raises(DatasetError, match="track 'a'"):
        check_no_leakage({"train": [a, b], "test": [_record("a", "blues")]})


def test_check_no_leakage_raises_on_shared_group_only_where_known():
    check_no_leakage({"train": [_record("a", "blues")], "test": [_record("b", "blues")]})
    with pytest.raises(DatasetError, match="group 'art'"):
        check_no_leakage({"train": [_record("a", "blues", "art")], "test": [_record("b", "blues", "art")]})


def test_bad_parameters_raise():
    records = random_records(0)
    with pytest.raises(InvalidParameterError, match="scheme"):
        make_splits(records, "segment")
    with pytest.raises(InvalidParameterError, match="fold"):
        make_splits(records, "kfold", n_folds=3, fold=3)
    with pytest.raises(InvalidParameterError, match="n_folds"):
        make_splits(records, "kfold", n_folds=1)
    with pytest.raises(InvalidParameterError, match="test_fraction"):
        make_splits(records, "kfold", test_fraction=0.2)
    with pytest.raises(InvalidParameterError, match="< 1"):
        make_splits(records, "random", valid_fraction=0.5, test_fraction=0.5)
    with pytest.raises(DatasetError, match="cannot fill"):
        make_splits(records[:3], "kfold", n_folds=5)


def test_segment_random_split_is_leaky_by_design():
    segments = [(f"t{t}", k) for t in range(10) for k in range(10)]
    splits = segment_random_split(segments, seed=0, test_fraction=0.2)
    assert len(splits["test"]) == 20 and len(splits["train"]) == 80 and splits["valid"] == []
    train_tracks = {t for t, _ in splits["train"]}
    test_tracks = {t for t, _ in splits["test"]}
    assert train_tracks & test_tracks
    assert segment_random_split(segments, seed=0, test_fraction=0.2) == splits
