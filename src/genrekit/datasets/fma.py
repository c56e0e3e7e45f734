"""FMA, the Free Music Archive dataset (Defferrard et al., 2017).

Metadata: ``fma_metadata/tracks.csv``, written by pandas with two header rows (a column
MultiIndex such as ``('set', 'split')``, ``('track', 'genre_top')``, ``('artist', 'id')``)
and usually a third row naming the index (``track_id,,,...``). Audio:
``fma_<size>/<first 3 digits>/<6-digit id>.mp3``.
"""

from __future__ import annotations

import csv
import sys
import warnings
from pathlib import Path

from genrekit.datasets.records import TrackRecord, normalize_split, sort_records
from genrekit.errors import DatasetError, InvalidParameterError

FMA_SUBSETS = ("small", "medium", "large", "full")
# Each subset holds the tracks of the smaller ones; "full" has the same tracks as "large"
# (untrimmed audio).
_SUBSET_RANK = {"small": 0, "medium": 1, "large": 2, "full": 2}

_COLUMNS = {
    "split": ("set", "split"),
    "subset": ("set", "subset"),
    "genre_top": ("track", "genre_top"),
    "artist_id": ("artist", "id"),
}

MISSING_MODES = ("error", "skip", "keep")


def fma_audio_path(audio_dir: Path, track_id: int) -> Path:
    """Where FMA keeps a track: ``audio_dir/<first 3 digits>/<id:06d>.mp3``."""
    name = f"{track_id:06d}"
    return Path(audio_dir) / name[:3] / f"{name}.mp3"


def _read_tracks_csv(tracks_csv: Path) -> list[dict[str, str]]:
    """Rows of ``tracks.csv`` as dicts keyed by ``"track_id"`` and the names of :data:`_COLUMNS`."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        handle = open(tracks_csv, newline="", encoding="utf-8")
    except OSError as e:
        raise DatasetError(f"cannot open {tracks_csv}: {e}") from e
    with handle:
        reader = csv.reader(handle)
        try:
            level0 = next(reader)
            level1 = next(reader)
        except StopIteration as e:
            raise DatasetError(f"{tracks_csv}: expected two header rows") from e
        except csv.Error as e:
            raise DatasetError(f"{tracks_csv}: {e}") from e
        if len(level0) != len(level1):
            raise DatasetError(f"{tracks_csv}: the two header rows differ in length")
        columns = list(zip(level0, level1, strict=True))
        index = {}
        for name, key in _COLUMNS.items():
            if key not in columns:
                raise DatasetError(f"{tracks_csv}: column {key} not found; is this FMA's tracks.csv?")
            index[name] = columns.index(key)
        rows = []
        try:
            for row in reader:
                if not row or not any(row):
                    continue
                if row[0] == "track_id" and not any(row[1:]):
                    continue
                if len(row) != len(columns):
                    raise DatasetError(f"{tracks_csv}:{reader.line_num}: {len(row)} fields, expected {len(columns)}")
                entry = {name: row[i] for name, i in index.items()}
                entry["track_id"] = row[0]
                rows.append(entry)
        except csv.Error as e:
            raise DatasetError(f"{tracks_csv}:{reader.line_num}: {e}") from e
    return rows


def load_fma(
    metadata_dir: str | Path,
    audio_dir: str | Path,
    subset: str = "small",
    *,
    on_missing: str = "skip",
) -> list[TrackRecord]:
    """Load an FMA subset with its top-genre labels and official split.

    Parameters
    ----------
    metadata_dir : str or Path
        The ``fma_metadata`` folder (holding ``tracks.csv``).
    audio_dir : str or Path
        The audio folder, e.g. ``fma_small`` or ``fma_large``.
    subset : {"small", "medium", "large", "full"}
        Tracks of this subset and the smaller ones (small is in medium, medium in large).
    on_missing : {"skip", "error", "keep"}
        A listed track whose mp3 is absent is skipped (with one warning giving the
        count), makes the call fail, or is kept.

    Returns
    -------
    list of TrackRecord
        ``label`` = ``('track', 'genre_top')`` (tracks without one are skipped),
        ``split`` from ``('set', 'split')`` (training/validation/test -> train/valid/test),
        ``group`` = ``"artist:<artist id>"``, ``track_id`` = the 6-digit id,
        ``source`` = ``"fma"``; sorted by label then id.

    Raises
    ------
    DatasetError
        If ``tracks.csv`` or the audio folder is missing or malformed.
    """
    if subset not in FMA_SUBSETS:
        raise InvalidParameterError(f"subset must be one of {FMA_SUBSETS}, got {subset!r}")
    if on_missing not in MISSING_MODES:
        raise InvalidParameterError(f"on_missing must be one of {MISSING_MODES}, got {on_missing!r}")
    metadata_dir, audio_dir = Path(metadata_dir), Path(audio_dir)
    if not audio_dir.is_dir():
        raise DatasetError(f"FMA audio folder {audio_dir} not found")
    tracks_csv = metadata_dir / "tracks.csv"
    rank = _SUBSET_RANK[subset]
    records = []
    missing = []
    for row in _read_tracks_csv(tracks_csv):
        try:
            track_number = int(row["track_id"])
        except ValueError as e:
            raise DatasetError(f"{tracks_csv}: bad track id {row['track_id']!r}") from e
        row_subset = row["subset"].strip().lower()
        if row_subset not in _SUBSET_RANK:
            raise DatasetError(f"{tracks_csv}: track {track_number}: unknown subset {row['subset']!r}")
        if _SUBSET_RANK[row_subset] > rank:
            continue
        label = row["genre_top"].strip()
        if not label:
            continue
        try:
            split = normalize_split(row["split"])
        except InvalidParameterError as e:
            raise DatasetError(f"{tracks_csv}: track {track_number}: {e}") from e
        path = fma_audio_path(audio_dir, track_number)
        if on_missing != "keep" and not path.is_file():
            missing.append(path)
            continue
        artist = row["artist_id"].strip()
        records.append(
            TrackRecord(
                path=path,
                label=label,
                group=f"artist:{artist}" if artist else None,
                split=split,
                track_id=f"{track_number:06d}",
                source="fma",
            )
        )
    if missing:
        if on_missing == "error":
            raise DatasetError(f"FMA: {len(missing)} audio files missing under {audio_dir}, e.g. {missing[0]}")
        warnings.warn(f"FMA: skipped {len(missing)} tracks whose audio is missing under {audio_dir}", stacklevel=2)
    return sort_records(records)
