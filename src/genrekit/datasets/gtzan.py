"""GTZAN (Tzanetakis and Cook, 2002): 1000 clips of 30 s, 10 genres, 100 each.

Three layouts are recognised, each either as given or as the folder that holds it:

* the original archive: ``genres/<genre>/<genre>.000NN.au``;
* the Kaggle copy: ``genres_original/<genre>/<genre>.000NN.wav`` (beside ``images_original/``
  and the feature tables);
* split folders, as in genrekit's development subset:
  ``{train,valid,test}/<genre>/<genre>.000NN.<ext>``.

Any audio extension is accepted for the clips (a converted copy in FLAC works the same).
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from importlib import resources
from pathlib import Path

from genrekit.datasets.files import has_audio_extension, is_hidden
from genrekit.datasets.records import SPLIT_NAMES, TrackRecord, sort_records
from genrekit.errors import DatasetError, InvalidParameterError

GTZAN_GENRES = (
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
)
N_GTZAN_TRACKS = 1000  # 10 genres x 100 clips

GTZAN_SPLIT_MODES = ("auto", "filtered", "folder", "none")

_TRACK_RE = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d{5})$")
_LIST_LINE_RE = re.compile(r"^(?P<genre>[a-z]+)/(?P<track_id>(?P=genre)\.\d{5})\.wav$")


@lru_cache(maxsize=1)
def _filtered_lists() -> tuple[tuple[str, tuple[str, ...]], ...]:
    out = []
    seen: dict[str, str] = {}
    folder = resources.files("genrekit.datasets") / "splits"
    for split in SPLIT_NAMES:
        name = f"{split}_filtered.txt"
        try:
            text = (folder / name).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as e:
            raise DatasetError(f"cannot read the GTZAN split list {name}: {e}") from e
        ids = []
        for line_no, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            match = _LIST_LINE_RE.match(line)
            if match is None:
                raise DatasetError(f"{name}:{line_no}: malformed entry {line!r}")
            track_id = match["track_id"]
            if track_id in seen:
                raise DatasetError(f"{name}:{line_no}: {track_id} is already in {seen[track_id]}")
            seen[track_id] = split
            ids.append(track_id)
        out.append((split, tuple(ids)))
    return tuple(out)


def gtzan_filtered_splits() -> dict[str, list[str]]:
    """The fault-filtered, artist-disjoint GTZAN split lists shipped with genrekit.

    Returns
    -------
    dict of str to list of str
        ``{"train": [...], "valid": [...], "test": [...]}`` of track ids such as
        ``"blues.00029"``, in list order (443, 197 and 290 tracks). The 70 GTZAN tracks
        in no list are the faulty ones (repeats, mislabelled, distorted).
    """
    return {split: list(ids) for split, ids in _filtered_lists()}


def gtzan_filtered_split_of() -> dict[str, str]:
    """Track id (``"blues.00029"``) -> ``"train"``/``"valid"``/``"test"`` for the 930 listed
    tracks of :func:`gtzan_filtered_splits`."""
    return {track_id: split for split, ids in _filtered_lists() for track_id in ids}


def _genre_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name in GTZAN_GENRES)


def _holds_gtzan_clips(folder: Path) -> bool:
    """True when ``folder`` has genre sub-folders holding ``<genre>.NNNNN.<audio ext>`` files."""
    for genre_dir in _genre_dirs(folder):
        for path in genre_dir.iterdir():
            match = _TRACK_RE.match(path.stem)
            if match and match["genre"] == genre_dir.name and has_audio_extension(path):
                return True
    return False


def find_gtzan_layout(root: Path) -> tuple[str, Path] | None:
    """Recognise a GTZAN layout at ``root``.

    Returns
    -------
    tuple of (str, Path) or None
        ``("split_folders", root)`` for ``{train,valid,test}/<genre>/...``, or
        ``("genres", folder)`` with the folder holding the genre sub-folders (``root``
        itself, ``root/genres_original`` or ``root/genres``); ``None`` if ``root`` is not
        GTZAN.
    """
    root = Path(root)
    if not root.is_dir():
        return None
    split_dirs = [root / s for s in SPLIT_NAMES if (root / s).is_dir()]
    if split_dirs and all(_holds_gtzan_clips(d) for d in split_dirs):
        return ("split_folders", root)
    for candidate in (root, root / "genres_original", root / "genres"):
        if candidate.is_dir() and _holds_gtzan_clips(candidate):
            return ("genres", candidate)
    return None


def _scan_genre_folder(folder: Path, folder_split: str | None) -> list[tuple[Path, str, str | None]]:
    found = []
    for genre_dir in _genre_dirs(folder):
        for path in sorted(genre_dir.iterdir()):
            if is_hidden(path.name) or not path.is_file() or not has_audio_extension(path):
                continue
            match = _TRACK_RE.match(path.stem)
            if match is None:
                warnings.warn(f"GTZAN: ignoring {path} (not named <genre>.NNNNN)", stacklevel=3)
                continue
            if match["genre"] != genre_dir.name:
                raise DatasetError(f"GTZAN: {path} is named for {match['genre']!r} but lies in {genre_dir.name!r}")
            found.append((path, path.stem, folder_split))
    return found


def load_gtzan(root: str | Path, *, split: str = "auto") -> list[TrackRecord]:
    """Load GTZAN in any of its layouts.

    Parameters
    ----------
    root : str or Path
        The dataset folder (see the module docstring for the layouts).
    split : {"auto", "filtered", "folder", "none"}
        Where each track's ``split`` comes from. ``"filtered"``: the fault-filtered lists
        of :func:`gtzan_filtered_splits` (unlisted tracks get ``None``). ``"folder"``: the
        ``train``/``valid``/``test`` folder a track lies in (split-folder layout only).
        ``"none"``: no split. ``"auto"``: ``"folder"`` for the split-folder layout, else
        ``"filtered"``.

    Returns
    -------
    list of TrackRecord
        Sorted by label then track id; ``group`` is ``None`` (GTZAN's artist list is not
        shipped; the filtered lists are already artist-disjoint), ``source`` is
        ``"gtzan"``.

    Raises
    ------
    DatasetError
        If ``root`` is not a GTZAN layout, or a track id appears twice.
    InvalidParameterError
        For an unknown ``split`` mode, or ``"folder"`` without split folders.
    """
    if split not in GTZAN_SPLIT_MODES:
        raise InvalidParameterError(f"split must be one of {GTZAN_SPLIT_MODES}, got {split!r}")
    root = Path(root)
    layout = find_gtzan_layout(root)
    if layout is None:
        raise DatasetError(
            f"{root} is not a GTZAN folder: expected <genre>/<genre>.NNNNN.<ext> under it, "
            "under genres_original/ or genres/, or under train/, valid/, test/"
        )
    kind, folder = layout
    if kind == "split_folders":
        found = []
        for split_name in SPLIT_NAMES:
            if (folder / split_name).is_dir():
                found.extend(_scan_genre_folder(folder / split_name, split_name))
    else:
        if split == "folder":
            raise InvalidParameterError(f"split='folder' needs train/valid/test folders, which {root} lacks")
        found = _scan_genre_folder(folder, None)
    mode = split if split != "auto" else ("folder" if kind == "split_folders" else "filtered")
    listed = gtzan_filtered_split_of() if mode == "filtered" else {}
    records = []
    seen: dict[str, Path] = {}
    for path, track_id, folder_split in found:
        if track_id in seen:
            raise DatasetError(f"GTZAN: track {track_id} appears twice: {seen[track_id]} and {path}")
        seen[track_id] = path
        if mode == "folder":
            track_split = folder_split
        elif mode == "filtered":
            track_split = listed.get(track_id)
        else:
            track_split = None
        records.append(
            TrackRecord(
                path=path,
                label=track_id.split(".")[0],
                group=None,
                split=track_split,
                track_id=track_id,
                source="gtzan",
            )
        )
    return sort_records(records)
