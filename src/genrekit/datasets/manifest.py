"""CSV manifests: one row per track.

Columns (header names, any case; first alias found wins):

* path: ``path``, ``file``, ``filepath``, ``filename`` (required; relative paths are
  resolved against the CSV's folder);
* label: ``label``, ``genre`` (required);
* split: ``split`` (optional; train/valid/test and their usual spellings, empty = none);
* group: ``group``, ``artist``, ``artist_id``, ``source_repo`` (optional);
* track id: ``track_id``, ``id`` (optional; default: the path without extension).

genrekit's extra-pool manifest (``file,genre,source_repo,...``) is read as is, with the
source repository as group.
"""

from __future__ import annotations

import csv
from pathlib import Path

from genrekit.datasets.fma import MISSING_MODES
from genrekit.datasets.records import TrackRecord, normalize_split, sort_records
from genrekit.errors import DatasetError, InvalidParameterError

_ALIASES = {
    "path": ("path", "file", "filepath", "filename"),
    "label": ("label", "genre"),
    "split": ("split",),
    "group": ("group", "artist", "artist_id", "source_repo"),
    "track_id": ("track_id", "id"),
}


def _resolve_columns(header: list[str], csv_path: Path) -> dict[str, int]:
    lowered = [name.strip().lower() for name in header]
    found = {}
    for field, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in lowered:
                found[field] = lowered.index(alias)
                break
    for required in ("path", "label"):
        if required not in found:
            raise DatasetError(
                f"{csv_path}: no {required} column; expected one of {', '.join(_ALIASES[required])}, "
                f"found {', '.join(header)}"
            )
    return found


def load_manifest(csv_path: str | Path, *, on_missing: str = "error") -> list[TrackRecord]:
    """Load the tracks listed in a CSV manifest.

    Parameters
    ----------
    csv_path : str or Path
        UTF-8 CSV with a header row (see the module docstring for the columns).
    on_missing : {"error", "skip", "keep"}
        What to do with rows whose file does not exist.

    Returns
    -------
    list of TrackRecord
        ``source`` = ``"manifest"``; sorted by label then track id.

    Raises
    ------
    DatasetError
        If the file cannot be read, a required column is absent, a row is incomplete,
        names an unknown split, repeats a path or track id, or (``on_missing="error"``)
        names a missing file. Messages give the line number.
    """
    if on_missing not in MISSING_MODES:
        raise InvalidParameterError(f"on_missing must be one of {MISSING_MODES}, got {on_missing!r}")
    csv_path = Path(csv_path)
    base = csv_path.resolve().parent
    try:
        handle = open(csv_path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise DatasetError(f"cannot open manifest {csv_path}: {e}") from e
    records = []
    missing = []
    seen_paths: dict[Path, int] = {}
    seen_ids: dict[str, int] = {}
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration as e:
            raise DatasetError(f"manifest {csv_path} is empty") from e
        except (csv.Error, UnicodeDecodeError) as e:
            raise DatasetError(f"manifest {csv_path}: {e}") from e
        columns = _resolve_columns(header, csv_path)
        try:
            for row in reader:
                line = reader.line_num
                if not row or not any(cell.strip() for cell in row):
                    continue
                if len(row) < len(header):
                    raise DatasetError(f"{csv_path}:{line}: {len(row)} fields, expected {len(header)}")
                values = {field: row[i].strip() for field, i in columns.items()}
                if not values["path"] or not values["label"]:
                    raise DatasetError(f"{csv_path}:{line}: empty path or label")
                path = Path(values["path"])
                if not path.is_absolute():
                    path = base / path
                if path in seen_paths:
                    raise DatasetError(f"{csv_path}:{line}: {values['path']} already listed on line {seen_paths[path]}")
                seen_paths[path] = line
                try:
                    split = normalize_split(values.get("split"))
                except InvalidParameterError as e:
                    raise DatasetError(f"{csv_path}:{line}: {e}") from e
                track_id = values.get("track_id") or Path(values["path"]).with_suffix("").as_posix()
                if track_id in seen_ids:
                    raise DatasetError(
                        f"{csv_path}:{line}: track id {track_id!r} already used on line {seen_ids[track_id]}"
                    )
                seen_ids[track_id] = line
                if on_missing != "keep" and not path.is_file():
                    missing.append((line, path))
                    continue
                records.append(
                    TrackRecord(
                        path=path,
                        label=values["label"],
                        group=values.get("group") or None,
                        split=split,
                        track_id=track_id,
                        source="manifest",
                    )
                )
        except (csv.Error, UnicodeDecodeError) as e:
            raise DatasetError(f"{csv_path}:{reader.line_num}: {e}") from e
    if missing and on_missing == "error":
        line, path = missing[0]
        raise DatasetError(f"{csv_path}: {len(missing)} listed files do not exist, first on line {line}: {path}")
    return sort_records(records)
