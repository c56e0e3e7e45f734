"""Train / valid / test splits that never leak a track, or a known artist, across sides.

Every scheme splits whole *units*: a unit is the record's artist ``group`` where it is
known, else the track itself (``track_id``). All the windows or segments cut from one
track therefore stay on one side, and so do all the tracks of one known artist. This is
what makes a reported accuracy honest: splitting the 3 s segments of a song at random
puts near-identical audio in train and test and inflates accuracy (see
:func:`segment_random_split`, the one deliberately leaky helper, kept for the
``genrekit compare --leaky`` demonstration).

Schemes (argument ``scheme`` of :func:`make_splits`):

``"filtered"``
    GTZAN's fault-filtered, artist-conditional lists (Kereliuk et al. 2015, Sturm 2013):
    the records' own ``split`` field as set by ``genrekit.datasets.load_gtzan``. Tracks the
    lists leave out (duplicates, mislabelled, distorted) have ``split=None`` and are dropped.
``"dataset"``
    The dataset's own split column (FMA's ``set.split``, a manifest's ``split``); records
    without one are dropped.
``"random"``
    One seeded random split by unit, stratified by label: ``test_fraction`` of the units of
    each label go to test, ``valid_fraction`` to valid, the rest to train; every label with
    at least one unit keeps one in train.
``"kfold"``
    Stratified k-fold by unit: each label's units are shuffled (seeded) and dealt
    round-robin over the folds, so every fold holds its share of each label (floor or
    ceil) and fold sizes differ by at most one unit. Fold ``fold`` is the test side, and
    ``valid_fraction`` of the remaining units (stratified) is carved out as valid. Without
    known groups this is stratified k-fold by track.
``"group_kfold"``
    k folds of whole groups balanced by size (sklearn ``GroupKFold`` semantics, seeded),
    not stratified; tracks without a known group count as a group of their own.

The result is always a dict with the keys ``"train"``, ``"valid"`` and ``"test"`` (each a
list of records, possibly empty, in input order).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from genrekit.datasets.records import SPLIT_NAMES
from genrekit.errors import DatasetError, InvalidParameterError

if TYPE_CHECKING:
    from genrekit.datasets import TrackRecord

SPLIT_SCHEMES = ("filtered", "dataset", "random", "kfold", "group_kfold")

Unit = tuple[str, Hashable]


def track_key(record: Any) -> Hashable:
    """Identity of a record's track: its ``track_id``, else its path as a string."""
    track_id = getattr(record, "track_id", None)
    return track_id if track_id not in (None, "") else str(record.path)


def group_key(record: Any) -> Hashable | None:
    """The record's artist group, or ``None`` where unknown."""
    group = getattr(record, "group", None)
    return None if group in (None, "") else group


def unit_key(record: Any) -> Unit:
    """The indivisible unit a record is split with: its known group, else its track."""
    group = group_key(record)
    return ("group", group) if group is not None else ("track", track_key(record))


def make_splits(
    records: Sequence[TrackRecord],
    scheme: str,
    *,
    seed: int = 0,
    n_folds: int = 5,
    fold: int = 0,
    valid_fraction: float = 0.2,
    test_fraction: float = 0.0,
) -> dict[str, list[TrackRecord]]:
    """Split records into train / valid / test without leakage.

    Parameters
    ----------
    records : sequence of TrackRecord
        Labelled tracks (``path``, ``label``, optional ``group``, ``split``, ``track_id``).
    scheme : {"filtered", "dataset", "random", "kfold", "group_kfold"}
        See the module docstring.
    seed : int
        Seed of every random choice; the same seed gives the same split.
    n_folds : int >= 2
        Number of folds (``kfold``, ``group_kfold``).
    fold : int in [0, n_folds)
        Which fold is the test side (``kfold``, ``group_kfold``).
    valid_fraction : float in [0, 1)
        Share of units put in valid (``random``), or of the non-test units (k-fold schemes).
    test_fraction : float in [0, 1)
        Share of units put in test (``random`` only; must be 0 for the k-fold schemes).

    Returns
    -------
    dict of str to list of TrackRecord
        Keys ``"train"``, ``"valid"``, ``"test"``; records keep their input order.

    Raises
    ------
    InvalidParameterError
        Unknown scheme or out-of-range parameter.
    DatasetError
        No record carries a split (``filtered``, ``dataset``), too few units for the
        folds, or the result would leak (see :func:`check_no_leakage`).
    """
    records = list(records)
    if scheme not in SPLIT_SCHEMES:
        raise InvalidParameterError(f"unknown split scheme {scheme!r}; choose one of {', '.join(SPLIT_SCHEMES)}")
    _check_fraction("valid_fraction", valid_fraction)
    _check_fraction("test_fraction", test_fraction)
    if scheme in ("filtered", "dataset"):
        splits = _split_by_field(records, scheme)
    elif scheme == "random":
        if valid_fraction + test_fraction >= 1.0:
            raise InvalidParameterError(
                f"valid_fraction + test_fraction must be < 1, got {valid_fraction} + {test_fraction}"
            )
        rng = np.random.default_rng(seed)
        units = _units(records)
        test_units = _stratified_pick(units, test_fraction, rng, keep_one=True)
        rest = {u: lab for u, lab in units.items() if u not in test_units}
        remaining_fraction = valid_fraction / (1.0 - test_fraction) if test_fraction < 1.0 else 0.0
        valid_units = _stratified_pick(rest, remaining_fraction, rng, keep_one=True)
        splits = _assign(records, test_units, valid_units)
    else:
        if test_fraction != 0.0:
            raise InvalidParameterError(f"test_fraction must be 0 for scheme {scheme!r}: the held-out fold is the test side")
        _check_folds(n_folds, fold)
        fold_of = _fold_assignment(records, scheme, n_folds=n_folds, seed=seed)
        test_units = {u for u, f in fold_of.items() if f == fold}
        units = _units(records)
        rest = {u: lab for u, lab in units.items() if u not in test_units}
        rng = np.random.default_rng([seed, fold, 1])
        valid_units = _stratified_pick(rest, valid_fraction, rng, keep_one=True)
        splits = _assign(records, test_units, valid_units)
    check_no_leakage(splits)
    return splits


def iter_folds(
    records: Sequence[TrackRecord],
    scheme: str = "kfold",
    *,
    seed: int = 0,
    n_folds: int = 5,
    valid_fraction: float = 0.2,
) -> Iterator[tuple[int, dict[str, list[TrackRecord]]]]:
    """Yield ``(fold, splits)`` for cross-validation; the test sides partition the records.

    Parameters
    ----------
    records : sequence of TrackRecord
    scheme : {"kfold", "group_kfold"}
    seed : int
        The fold assignment is the same for every fold of one seed.
    n_folds : int >= 2
    valid_fraction : float in [0, 1)
        Share of each fold's training units carved out as valid (0 for none).

    Yields
    ------
    (int, dict of str to list of TrackRecord)
        Fold index and its ``{"train", "valid", "test"}`` split.
    """
    if scheme not in ("kfold", "group_kfold"):
        raise InvalidParameterError(f"cross-validation needs scheme 'kfold' or 'group_kfold', got {scheme!r}")
    for fold in range(n_folds):
        yield fold, make_splits(
            records, scheme, seed=seed, n_folds=n_folds, fold=fold, valid_fraction=valid_fraction
        )


def check_no_leakage(splits: Mapping[str, Sequence[TrackRecord]]) -> None:
    """Raise if one track, or one known artist group, appears on two sides.

    Parameters
    ----------
    splits : mapping of str to sequence of TrackRecord
        e.g. the result of :func:`make_splits`.

    Raises
    ------
    DatasetError
        Naming the first few shared tracks or groups and the sides they appear on.
    """
    seen_track: dict[Hashable, str] = {}
    seen_group: dict[Hashable, str] = {}
    leaks: list[str] = []
    for side, side_records in splits.items():
        for record in side_records:
            track = track_key(record)
            other = seen_track.setdefault(track, side)
            if other != side:
                leaks.append(f"track {track!r} in {other!r} and {side!r}")
            group = group_key(record)
            if group is not None:
                other = seen_group.setdefault(group, side)
                if other != side:
                    leaks.append(f"group {group!r} in {other!r} and {side!r}")
    if leaks:
        unique = list(dict.fromkeys(leaks))
        shown = "; ".join(unique[:5])
        more = f" (and {len(unique) - 5} more)" if len(unique) > 5 else ""
        raise DatasetError(f"split leaks across sides: {shown}{more}")


def segment_random_split(
    segments: Sequence[tuple[Hashable, int]],
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.0,
) -> dict[str, list[tuple[Hashable, int]]]:
    """LEAKY on purpose: split ``(track_id, segment_index)`` pairs at random.

    Segments of one track land on both sides, so a model is tested on other seconds of
    songs it was trained on; accuracies measured this way are inflated. Only
    ``genrekit compare --leaky`` uses it, to show the size of that inflation next to the
    honest split. Never use it to report a model's accuracy.

    Parameters
    ----------
    segments : sequence of (track_id, segment_index)
    seed : int
    test_fraction, valid_fraction : float in [0, 1)
        Shares of the segments (rounded) put in test and valid.

    Returns
    -------
    dict of str to list of (track_id, segment_index)
        Keys ``"train"``, ``"valid"``, ``"test"``; pairs keep their input order.
    """
    _check_fraction("valid_fraction", valid_fraction)
    _check_fraction("test_fraction", test_fraction)
    if valid_fraction + test_fraction >= 1.0:
        raise InvalidParameterError("valid_fraction + test_fraction must be < 1")
    segments = list(segments)
    n = len(segments)
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(test_fraction * n))
    n_valid = int(round(valid_fraction * n))
    side = np.zeros(n, dtype=np.int64)
    side[order[:n_test]] = 2
    side[order[n_test : n_test + n_valid]] = 1
    return {name: [s for s, k in zip(segments, side) if k == i] for i, name in enumerate(SPLIT_NAMES)}


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= float(value) < 1.0:
        raise InvalidParameterError(f"{name} must be in [0, 1), got {value}")


def _check_folds(n_folds: int, fold: int) -> None:
    if int(n_folds) != n_folds or n_folds < 2:
        raise InvalidParameterError(f"n_folds must be an integer >= 2, got {n_folds}")
    if int(fold) != fold or not 0 <= fold < n_folds:
        raise InvalidParameterError(f"fold must be in [0, {n_folds}), got {fold}")


def _normalise_split(value: Any) -> str | None:
    from genrekit.datasets.records import normalize_split

    if value is None:
        return None
    try:
        return normalize_split(str(value))
    except InvalidParameterError as e:
        raise DatasetError(f"record has an unknown split name: {e}") from e


def _split_by_field(records: list[Any], scheme: str) -> dict[str, list[Any]]:
    splits: dict[str, list[Any]] = {name: [] for name in SPLIT_NAMES}
    n_with_split = 0
    for record in records:
        name = _normalise_split(getattr(record, "split", None))
        if name is not None:
            n_with_split += 1
            splits[name].append(record)
    if n_with_split == 0:
        hint = " (load GTZAN with genrekit.datasets.load_gtzan, which applies the filtered lists)" if scheme == "filtered" else ""
        raise DatasetError(f"scheme {scheme!r} needs records with a split field, but none has one{hint}")
    return splits


def _units(records: list[Any]) -> dict[Unit, str]:
    """Each unit with its label (the most common label of its tracks, ties by name)."""
    counts: dict[Unit, Counter[str]] = defaultdict(Counter)
    for record in records:
        counts[unit_key(record)][str(record.label)] += 1
    return {unit: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for unit, c in counts.items()}


def _sorted_units(units: Mapping[Unit, str]) -> list[Unit]:
    return sorted(units, key=lambda u: (u[0], str(u[1])))


def _stratified_pick(
    units: Mapping[Unit, str], fraction: float, rng: np.random.Generator, *, keep_one: bool
) -> set[Unit]:
    """Pick about ``fraction`` of the units, the same share of each label (largest remainder).

    With ``keep_one`` every label keeps at least one unit out of the pick.
    """
    if fraction <= 0.0 or not units:
        return set()
    by_label: dict[str, list[Unit]] = defaultdict(list)
    for unit in _sorted_units(units):
        by_label[units[unit]].append(unit)
    labels = sorted(by_label)
    target = int(round(fraction * len(units)))
    exact = np.array([fraction * len(by_label[lab]) for lab in labels])
    caps = np.array([len(by_label[lab]) - (1 if keep_one else 0) for lab in labels])
    take = np.minimum(np.floor(exact).astype(np.int64), caps)
    remainder = exact - np.floor(exact)
    tiebreak = rng.random(len(labels))
    order = sorted(range(len(labels)), key=lambda i: (-remainder[i], tiebreak[i]))
    for i in order:
        if take.sum() >= target:
            break
        if take[i] < caps[i] and remainder[i] > 0:
            take[i] += 1
    picked: set[Unit] = set()
    for i, lab in enumerate(labels):
        members = by_label[lab]
        chosen = rng.permutation(len(members))[: take[i]]
        picked.update(members[j] for j in chosen)
    return picked


def _fold_assignment(records: list[Any], scheme: str, *, n_folds: int, seed: int) -> dict[Unit, int]:
    units = _units(records)
    ordered = _sorted_units(units)
    if len(ordered) < n_folds:
        raise DatasetError(f"{len(ordered)} split units (tracks or artist groups) cannot fill {n_folds} folds")
    rng = np.random.default_rng(seed)
    if scheme == "group_kfold":
        sizes = Counter(unit_key(r) for r in records)
        shuffled = [ordered[i] for i in rng.permutation(len(ordered))]
        shuffled.sort(key=lambda u: -sizes[u])
        load = np.zeros(n_folds, dtype=np.int64)
        fold_of: dict[Unit, int] = {}
        for unit in shuffled:
            f = int(np.argmin(load))
            fold_of[unit] = f
            load[f] += sizes[unit]
        return fold_of
    return _stratified_folds(units, ordered, n_folds=n_folds, rng=rng)


def _stratified_folds(
    units: Mapping[Unit, str], ordered: list[Unit], *, n_folds: int, rng: np.random.Generator
) -> dict[Unit, int]:
    """Deal the units of each label round-robin over the folds, in a seeded order.

    Each label's units are shuffled and dealt in turn, continuing where the previous label
    stopped, so every fold gets ``floor`` or ``ceil`` of each label's share and the fold
    sizes differ by at most one unit.
    """
    by_label: dict[str, list[Unit]] = defaultdict(list)
    for unit in ordered:
        by_label[units[unit]].append(unit)
    fold_of: dict[Unit, int] = {}
    start = int(rng.integers(n_folds))
    position = start
    for lab in sorted(by_label, key=lambda lab: (len(by_label[lab]), lab)):
        members = by_label[lab]
        for j in rng.permutation(len(members)):
            fold_of[members[j]] = position % n_folds
            position += 1
    return fold_of


def _assign(records: list[Any], test_units: set[Unit], valid_units: set[Unit]) -> dict[str, list[Any]]:
    splits: dict[str, list[Any]] = {name: [] for name in SPLIT_NAMES}
    for record in records:
        unit = unit_key(record)
        if unit in test_units:
            splits["test"].append(record)
        elif unit in valid_units:
            splits["valid"].append(record)
        else:
            splits["train"].append(record)
    return splits
