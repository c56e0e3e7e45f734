"""Folder-per-label libraries: ``root/<label>/**/<file>.<audio ext>``.

Optionally with split folders on top: ``root/{train,valid,test}/<label>/**/...``.
"""

from __future__ import annotations

from pathlib import Path

from genrekit.datasets.files import is_hidden, iter_audio_files
from genrekit.datasets.records import SPLIT_NAMES, TrackRecord, sort_records
from genrekit.errors import DatasetError


def has_split_folders(root: Path) -> bool:
    """True when every non-hidden sub-folder of ``root`` is named train, valid or test."""
    subdirs = [p.name for p in Path(root).iterdir() if p.is_dir() and not is_hidden(p.name)]
    return bool(subdirs) and all(name in SPLIT_NAMES for name in subdirs)


def _label_folder(folder: Path, split: str | None, root: Path, sniff: bool) -> list[TrackRecord]:
    records = []
    for label_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not is_hidden(p.name)):
        for path in iter_audio_files(label_dir, sniff=sniff):
            track_id = path.relative_to(root).with_suffix("").as_posix()
            records.append(
                TrackRecord(path=path, label=label_dir.name, split=split, track_id=track_id, source="folder")
            )
    return records


def load_folder(root: str | Path, *, sniff: bool = False) -> list[TrackRecord]:
    """Load a library with one sub-folder per label.

    Parameters
    ----------
    root : str or Path
        ``root/<label>/**/<audio file>``; files directly in ``root`` are ignored. When
        the only sub-folders are ``train``, ``valid`` and/or ``test``, each holds label
        folders and gives its tracks' ``split``.
    sniff : bool
        Recognise audio by its first bytes instead of by file extension.

    Returns
    -------
    list of TrackRecord
        ``label`` = the label folder's name, ``group`` = ``None``, ``track_id`` = the path
        relative to ``root`` without extension, ``source`` = ``"folder"``; sorted.

    Raises
    ------
    DatasetError
        If ``root`` is not a folder or holds no audio in label folders.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    if has_split_folders(root):
        records = []
        for split in SPLIT_NAMES:
            if (root / split).is_dir():
                records.extend(_label_folder(root / split, split, root, sniff))
    else:
        records = _label_folder(root, None, root, sniff)
    if not records:
        raise DatasetError(f"no audio files found in label folders under {root}")
    return sort_records(records)
