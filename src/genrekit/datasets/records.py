"""Track records and the :class:`Dataset` that holds them.

A loader turns a dataset layout on disk into a sorted list of :class:`TrackRecord`; a
:class:`Dataset` adds the layout's name, its root folder, the label set and a content
fingerprint, which trainers write into their model cards.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from genrekit.errors import DatasetError, InvalidParameterError

SPLIT_NAMES = ("train", "valid", "test")

_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "valid": "valid",
    "validation": "valid",
    "val": "valid",
    "dev": "valid",
    "test": "test",
    "testing": "test",
}


def normalize_split(value: str | None) -> str | None:
    """Map a split name as datasets spell it to ``"train"``, ``"valid"`` or ``"test"``.

    Parameters
    ----------
    value : str or None
        ``"training"``/``"train"``, ``"validation"``/``"valid"``/``"val"``/``"dev"``,
        ``"test"``/``"testing"`` (any case, surrounding blanks ignored); ``None`` or an
        empty string mean "no split".

    Returns
    -------
    str or None
        The canonical split name, or ``None``.

    Raises
    ------
    InvalidParameterError
        For any other name.
    """
    if value is None:
        return None
    key = value.strip().lower()
    if not key:
        return None
    if key not in _SPLIT_ALIASES:
        raise InvalidParameterError(f"unknown split {value!r}; expected one of {', '.join(sorted(_SPLIT_ALIASES))}")
    return _SPLIT_ALIASES[key]


@dataclass(frozen=True)
class TrackRecord:
    """One audio track of a dataset.

    Attributes
    ----------
    path : Path
        Audio file.
    label : str
        Genre label, as the dataset spells it.
    group : str or None
        Artist (or other unit) that must not be split across train/valid/test; ``None``
        where unknown.
    split : str or None
        ``"train"``, ``"valid"``, ``"test"``, or ``None`` where the dataset gives none
        (GTZAN tracks left out of the fault-filtered lists have ``None``).
    track_id : str
        Stable id of the track within its dataset (``"blues.00029"``, FMA ``"000002"``,
        a path relative to the dataset root without extension). Defaults to the file
        name without extension.
    source : str or None
        Layout the record was loaded from (``"gtzan"``, ``"fma"``, ``"folder"``,
        ``"manifest"``).
    """

    path: Path
    label: str
    group: str | None = None
    split: str | None = None
    track_id: str = ""
    source: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if not isinstance(self.label, str) or not self.label.strip():
            raise InvalidParameterError(f"track {self.path}: label must be a non-empty string")
        if self.split is not None and self.split not in SPLIT_NAMES:
            raise InvalidParameterError(
                f"track {self.path}: split must be one of {SPLIT_NAMES} or None, got {self.split!r}"
            )
        if self.group is not None and not isinstance(self.group, str):
            raise InvalidParameterError(f"track {self.path}: group must be a string or None")
        if not self.track_id:
            object.__setattr__(self, "track_id", self.path.stem)

    def to_dict(self) -> dict[str, str | None]:
        """JSON-ready dict (the path as a string)."""
        return {
            "path": str(self.path),
            "label": self.label,
            "group": self.group,
            "split": self.split,
            "track_id": self.track_id,
            "source": self.source,
        }


def sort_records(records: Iterable[TrackRecord]) -> list[TrackRecord]:
    """Records in the canonical order: by label, then track id, then path."""
    return sorted(records, key=lambda r: (r.label, r.track_id, str(r.path)))


def dataset_fingerprint(records: Iterable[TrackRecord], root: Path | None = None) -> str:
    """SHA-256 over the sorted ``(relative path, size in bytes, label)`` of every record.

    Parameters
    ----------
    records : iterable of TrackRecord
        The tracks; a missing file counts with size ``-1``.
    root : Path, optional
        Paths are taken relative to it (POSIX separators), so that the same dataset in
        another folder or on another machine gives the same fingerprint.

    Returns
    -------
    str
        64 hex digits.
    """
    rows = []
    for record in records:
        try:
            size = record.path.stat().st_size
        except OSError:
            size = -1
        if root is not None:
            rel = Path(os.path.relpath(record.path, root)).as_posix()
        else:
            rel = record.path.as_posix()
        rows.append((rel, size, record.label))
    rows.sort()
    digest = hashlib.sha256()
    for rel, size, label in rows:
        digest.update(json.dumps([rel, size, label], ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class Dataset:
    """The tracks of one dataset, with where and how they were found.

    Attributes
    ----------
    records : tuple of TrackRecord
        In canonical order (:func:`sort_records`).
    name : str
        Short name, by default the root folder's (or manifest's) name.
    root : Path
        Folder the record paths are relative to (for a manifest: the CSV's folder).
    layout : str
        Detected layout: ``"gtzan"``, ``"gtzan_dev"``, ``"fma"``, ``"folder"``,
        ``"manifest"``.
    """

    records: tuple[TrackRecord, ...]
    name: str
    root: Path
    layout: str
    info: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "records", tuple(self.records))
        object.__setattr__(self, "root", Path(self.root))
        if not self.records:
            raise DatasetError(f"dataset {self.name!r} at {self.root} holds no tracks")

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[TrackRecord]:
        return iter(self.records)

    @property
    def labels(self) -> list[str]:
        """Sorted distinct labels."""
        return sorted({r.label for r in self.records})

    @cached_property
    def fingerprint(self) -> str:
        """:func:`dataset_fingerprint` of the records relative to :attr:`root` (computed once)."""
        return dataset_fingerprint(self.records, self.root)

    def by_split(self, split: str | None) -> list[TrackRecord]:
        """Records of one split (``"train"``/``"valid"``/``"test"``, aliases accepted), or
        those without a split when ``split`` is ``None``."""
        wanted = normalize_split(split) if split is not None else None
        return [r for r in self.records if r.split == wanted]

    def counts(self) -> dict[str, dict[str, int]]:
        """Number of tracks per label and split: ``{label: {split or "none": n}}``."""
        counter = Counter((r.label, r.split or "none") for r in self.records)
        out: dict[str, dict[str, int]] = {label: {} for label in self.labels}
        for (label, split), n in sorted(counter.items()):
            out[label][split] = n
        return out
