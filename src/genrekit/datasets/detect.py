"""Recognise a dataset's layout and load it: :func:`load_dataset`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from genrekit.datasets.fma import FMA_SUBSETS, load_fma
from genrekit.datasets.folder import load_folder
from genrekit.datasets.gtzan import find_gtzan_layout, load_gtzan
from genrekit.datasets.manifest import load_manifest
from genrekit.datasets.records import Dataset
from genrekit.errors import DatasetError, InvalidParameterError

LAYOUTS = ("fma", "manifest", "gtzan", "folder")
SPLIT_SCHEMES = (None, "filtered", "none")
MANIFEST_NAME = "manifest.csv"  # a folder holding this file is loaded through it


def detect_layout(spec: str | Path) -> str:
    """Name the layout of a dataset folder or file.

    Parameters
    ----------
    spec : str or Path
        A ``.csv`` manifest, or a folder.

    Returns
    -------
    str
        ``"manifest"`` (a ``.csv`` file, or a folder holding ``manifest.csv``), ``"fma"``
        (``fma_metadata/tracks.csv`` inside), ``"gtzan"`` (any GTZAN layout) or
        ``"folder"`` (anything else: one sub-folder per label).

    Raises
    ------
    DatasetError
        If ``spec`` does not exist or is a file other than ``.csv``.
    """
    path = Path(spec)
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return "manifest"
        raise DatasetError(f"{path} is a file but not a .csv manifest")
    if not path.is_dir():
        raise DatasetError(f"dataset {path} not found")
    if (path / "fma_metadata" / "tracks.csv").is_file():
        return "fma"
    if (path / MANIFEST_NAME).is_file():
        return "manifest"
    if find_gtzan_layout(path) is not None:
        return "gtzan"
    return "folder"


def _fma_audio_dir(root: Path, subset: str | None) -> tuple[Path, str]:
    if subset is not None:
        audio_dir = root / f"fma_{subset}"
        if not audio_dir.is_dir() and subset != "full":
            for bigger in FMA_SUBSETS[FMA_SUBSETS.index(subset) + 1 :]:
                if (root / f"fma_{bigger}").is_dir():
                    return root / f"fma_{bigger}", subset
        if not audio_dir.is_dir():
            raise DatasetError(f"FMA: no audio folder for subset {subset!r} under {root}")
        return audio_dir, subset
    for name in FMA_SUBSETS:
        if (root / f"fma_{name}").is_dir():
            return root / f"fma_{name}", name
    raise DatasetError(f"FMA: no fma_small/fma_medium/fma_large/fma_full folder under {root}")


def load_dataset(
    spec: str | Path,
    *,
    split_scheme: str | None = None,
    subset: str | None = None,
) -> Dataset:
    """Load a dataset, recognising its layout (:func:`detect_layout`).

    Parameters
    ----------
    spec : str or Path
        A dataset folder (GTZAN in any layout, FMA root, folder per label, folder with a
        ``manifest.csv``) or a CSV manifest.
    split_scheme : {None, "filtered", "none"}
        ``None``: the layout's own splits (GTZAN: its split folders, else the
        fault-filtered lists; FMA: the official split; manifest: its ``split`` column;
        folder: ``train``/``valid``/``test`` folders if any). ``"filtered"``: GTZAN's
        fault-filtered lists (GTZAN only). ``"none"``: no splits at all.
    subset : {"small", "medium", "large", "full"}, optional
        FMA only: the subset to load; by default the smallest whose audio folder exists.

    Returns
    -------
    Dataset
        ``name`` = the folder's (or CSV's) name, ``root`` = the folder record paths are
        relative to, ``layout`` as detected.

    Raises
    ------
    DatasetError
        If the layout cannot be read or holds no tracks.
    InvalidParameterError
        For an unknown split scheme, ``"filtered"`` on a non-GTZAN layout, or ``subset``
        on a non-FMA layout.
    """
    if split_scheme not in SPLIT_SCHEMES:
        raise InvalidParameterError(f"split_scheme must be one of {SPLIT_SCHEMES}, got {split_scheme!r}")
    if subset is not None and subset not in FMA_SUBSETS:
        raise InvalidParameterError(f"subset must be one of {FMA_SUBSETS}, got {subset!r}")
    path = Path(spec)
    layout = detect_layout(path)
    if split_scheme == "filtered" and layout != "gtzan":
        raise InvalidParameterError(f"split_scheme='filtered' applies to GTZAN only; {path} is a {layout} dataset")
    if subset is not None and layout != "fma":
        raise InvalidParameterError(f"subset applies to FMA only; {path} is a {layout} dataset")
    info: dict[str, str] = {}
    if layout == "manifest":
        csv_path = path if path.is_file() else path / MANIFEST_NAME
        records = load_manifest(csv_path)
        root = csv_path.resolve().parent
        name = root.name if csv_path.stem == "manifest" else csv_path.stem
    elif layout == "fma":
        audio_dir, chosen = _fma_audio_dir(path, subset)
        records = load_fma(path / "fma_metadata", audio_dir, chosen)
        root, name = path, f"fma_{chosen}"
        info["subset"] = chosen
    elif layout == "gtzan":
        kind, _ = find_gtzan_layout(path)  # type: ignore[misc]
        records = load_gtzan(path, split="filtered" if split_scheme == "filtered" else "auto")
        root, name = path, path.resolve().name
        info["gtzan_layout"] = kind
    else:
        records = load_folder(path)
        root, name = path, path.resolve().name
    if split_scheme == "none":
        records = [dataclasses.replace(r, split=None) for r in records]
    return Dataset(records=tuple(records), name=name, root=root, layout=layout, info=info)
