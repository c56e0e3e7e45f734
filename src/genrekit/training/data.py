"""Training data: load a dataset or a feature table, split it, decode and cache what epochs need.

This module is an I/O edge. Everything it computes from audio goes through
:func:`genrekit.datasets.compute_cached`, so a second run (or a second family on the same
data) neither decodes nor extracts again:

* :func:`decode_excerpt`: a track's centred excerpt of at most ``max_track_s`` seconds,
  mono at the model's rate, stored as 16-bit PCM;
* :func:`table_feature_rows`: the 57 table features of each 30 s window of a track;
* :func:`cached_embeddings`: frozen musicnn embeddings of each window of a track.

The public Kaggle ``features_30_sec.csv`` is read directly by :func:`load_feature_table`
(table families only).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.datasets import Dataset, FeatureCache, TrackRecord, compute_cached, load_dataset
from genrekit.errors import DatasetError, InvalidParameterError
from genrekit.training.config import TrainConfig

PCM16_SCALE = 32767.0  # full scale of the 16-bit PCM cache entries
# Feature-cache names of the trainer's entries (other tools read the same entries).
DECODE_FEATURE_NAME = "genrekit.training.decode_excerpt"
TABLE_FEATURE_NAME = "genrekit.training.table_feature_rows"
EMBEDDING_FEATURE_NAME = "genrekit.training.musicnn_embeddings"
EMBEDDING_FEATURE_VERSION = "2"  # 2: windows cut by the serving windowing (end-aligned closing window)
TABLE_LABEL_COLUMN = "label"
TABLE_ID_COLUMN = "filename"
# Columns of the Kaggle table that are not features, or not usable ones: ``length`` is the
# clip length in samples, an artefact of the dataset rather than of the music.
TABLE_EXCLUDED_COLUMNS = ("filename", "length", "label")


def table_columns() -> list[str]:
    """The 57 table features used by table models (``TABLE_FEATURE_COLUMNS`` minus ``length``)."""
    from genrekit.features.table import TABLE_FEATURE_COLUMNS

    return [c for c in TABLE_FEATURE_COLUMNS if c not in TABLE_EXCLUDED_COLUMNS]


@dataclass
class LoadedData:
    """The records of a run and where they came from.

    Attributes
    ----------
    records : list of TrackRecord
    name : str
        Dataset name.
    root : Path
        Folder the record paths are relative to (fingerprints use relative paths).
    layout : str
        ``"gtzan"``, ``"fma"``, ``"folder"``, ``"manifest"`` or ``"feature_table"``.
    fingerprint : str
        SHA-256 over the records (see :func:`data_fingerprint`).
    table : dict of str to np.ndarray, optional
        Feature rows by track id (feature tables only), columns :func:`table_columns`.
    """

    records: list[TrackRecord]
    name: str
    root: Path
    layout: str
    fingerprint: str = ""
    table: dict[str, np.ndarray] | None = None
    skipped: list[dict[str, str]] = field(default_factory=list)


def is_feature_table(path: str | Path) -> bool:
    """True for a CSV whose header has ``filename``, ``label`` and the table feature columns."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() != ".csv":
        return False
    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    return {TABLE_ID_COLUMN, TABLE_LABEL_COLUMN, *table_columns()} <= set(header)


def load_feature_table(path: str | Path, *, filtered_splits: bool = False) -> LoadedData:
    """Read the Kaggle ``features_30_sec.csv`` (or a table with its columns).

    Parameters
    ----------
    path : path
        The CSV; ``filename`` gives the track id (``blues.00000.wav`` -> ``blues.00000``),
        ``label`` the genre.
    filtered_splits : bool
        Set each record's ``split`` from GTZAN's fault-filtered lists (unlisted -> ``None``).

    Raises
    ------
    DatasetError
        Missing columns, non-numeric values or a duplicated track id.
    """
    from genrekit.datasets import gtzan_filtered_split_of

    path = Path(path)
    columns = table_columns()
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (TABLE_ID_COLUMN, TABLE_LABEL_COLUMN, *columns) if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path}: not a feature table, missing column(s) {', '.join(missing[:5])}")
        rows = list(reader)
    split_of = gtzan_filtered_split_of() if filtered_splits else {}
    records, table = [], {}
    for line, row in enumerate(rows, start=2):
        track_id = Path(row[TABLE_ID_COLUMN]).stem
        if track_id in table:
            raise DatasetError(f"{path}:{line}: track {track_id} appears twice")
        try:
            table[track_id] = np.asarray([float(row[c]) for c in columns], dtype=np.float64)
        except ValueError as error:
            raise DatasetError(f"{path}:{line}: non-numeric feature value: {error}") from error
        records.append(
            TrackRecord(
                path=path,
                label=row[TABLE_LABEL_COLUMN],
                track_id=track_id,
                split=split_of.get(track_id),
                source="feature_table",
            )
        )
    if not records:
        raise DatasetError(f"{path} holds no rows")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return LoadedData(
        records=records, name=path.stem, root=path.parent, layout="feature_table", fingerprint=digest, table=table
    )


def load_training_data(spec: str | Path, *, scheme: str) -> LoadedData:
    """Load a dataset folder, manifest or feature table for training.

    Parameters
    ----------
    spec : path
        Anything :func:`genrekit.datasets.load_dataset` recognises, or a feature table CSV.
    scheme : str
        The split scheme; ``"filtered"`` asks GTZAN's fault-filtered lists.
    """
    if is_feature_table(spec):
        return load_feature_table(spec, filtered_splits=scheme == "filtered")
    dataset: Dataset = load_dataset(spec, split_scheme="filtered" if scheme == "filtered" else None)
    return LoadedData(records=list(dataset.records), name=dataset.name, root=dataset.root, layout=dataset.layout)


def select_genres(records: Sequence[TrackRecord], genres: Sequence[str]) -> list[TrackRecord]:
    """Keep the records of the listed labels (all when ``genres`` is empty).

    Raises
    ------
    InvalidParameterError
        A listed genre has no track, or fewer than two genres remain.
    """
    if not genres:
        return list(records)
    present = {r.label for r in records}
    unknown = [g for g in genres if g not in present]
    if unknown:
        raise InvalidParameterError(
            f"--genres: no track labelled {', '.join(unknown)}; the data has {', '.join(sorted(present))}"
        )
    if len(set(genres)) < 2:
        raise InvalidParameterError("--genres must keep at least two genres")
    keep = set(genres)
    return [r for r in records if r.label in keep]


def resolve_scheme(records: Sequence[TrackRecord], scheme: str) -> str:
    """``"auto"`` -> ``"dataset"`` when every record has a split, else ``"random"``."""
    if scheme != "auto":
        return scheme
    return "dataset" if all(r.split is not None for r in records) else "random"


def split_records(records: Sequence[TrackRecord], config: TrainConfig) -> tuple[str, dict[str, list[TrackRecord]]]:
    """Split with :func:`genrekit.training.splits.make_splits`; returns the scheme used and the splits."""
    from genrekit.training.splits import make_splits

    scheme = resolve_scheme(records, config.split.scheme)
    splits = make_splits(
        list(records),
        scheme,
        seed=config.seed,
        n_folds=config.split.n_folds,
        fold=config.split.fold,
        valid_fraction=config.split.valid_fraction,
    )
    if not splits["train"]:
        raise DatasetError(f"split scheme {scheme!r} leaves no training track")
    return scheme, splits


def data_fingerprint(records: Sequence[TrackRecord], root: Path, base: str = "") -> str:
    """SHA-256 over the records used (relative path, size, label, track id, split) and ``base``."""
    from genrekit.datasets import dataset_fingerprint

    digest = hashlib.sha256()
    digest.update(base.encode())
    digest.update(dataset_fingerprint(records, root).encode())
    for record in sorted(records, key=lambda r: (r.track_id, str(r.path))):
        digest.update(f"{record.track_id}\t{record.label}\t{record.split}\n".encode())
    return digest.hexdigest()


def label_counts(records: Sequence[TrackRecord]) -> dict[str, int]:
    """Tracks per label, sorted by label."""
    return dict(sorted(Counter(r.label for r in records).items()))


# ----------------------------------------------------------------------------- cached features


def decode_excerpt(path: Path, *, sr: int, max_track_s: float | None) -> np.ndarray:
    """A track's centred excerpt (at most ``max_track_s`` s), mono at ``sr``, as int16 PCM.

    Parameters
    ----------
    path : Path
    sr : int
        Hz.
    max_track_s : float or None
        Seconds kept around the middle; ``None`` keeps everything.

    Returns
    -------
    np.ndarray [shape=(n_samples,), dtype=int16]
        Full scale :data:`PCM16_SCALE`.
    """
    from genrekit.audio import load_audio, probe_audio

    offset, duration = 0.0, None
    if max_track_s is not None:
        info = probe_audio(path)
        if info.duration_s is not None and info.duration_s > max_track_s:
            offset, duration = (info.duration_s - max_track_s) / 2.0, max_track_s
    y, _ = load_audio(path, sr=sr, mono=True, offset=offset, duration=duration, max_duration_s=None)
    if max_track_s is not None and y.shape[0] > int(round(max_track_s * sr)):
        n = int(round(max_track_s * sr))
        start = (y.shape[0] - n) // 2
        y = y[start : start + n]
    return np.round(np.clip(y, -1.0, 1.0) * PCM16_SCALE).astype(np.int16)


def pcm16_to_float(pcm: np.ndarray) -> np.ndarray:
    """int16 PCM -> float32 in [-1, 1]."""
    return (np.asarray(pcm, dtype=np.float32) / PCM16_SCALE).astype(np.float32)


def table_feature_rows(path: Path, *, sr: int, window_s: float, max_track_s: float | None) -> np.ndarray:
    """Table features of each ``window_s`` window of a track (a shorter track: one window as is).

    Returns
    -------
    np.ndarray [shape=(n_windows, 57), dtype=float64]
        Columns :func:`table_columns`.
    """
    from genrekit.features.table import table_features

    y = pcm16_to_float(decode_excerpt(path, sr=sr, max_track_s=max_track_s))
    columns = table_columns()
    rows = []
    for window in split_windows(y, int(round(window_s * sr))):
        values = table_features(window, sr)
        rows.append([float(values[c]) for c in columns])
    return np.asarray(rows, dtype=np.float64)


def split_windows(y: np.ndarray, n_samples: int) -> list[np.ndarray]:
    """Consecutive non-overlapping windows of ``n_samples`` (a shorter track: itself; a tail
    shorter than half a window is dropped, a longer one kept as is)."""
    if y.shape[0] <= n_samples:
        return [y]
    out = [y[i : i + n_samples] for i in range(0, y.shape[0] - n_samples + 1, n_samples)]
    tail = y.shape[0] - len(out) * n_samples
    if 2 * tail >= n_samples:
        out.append(y[len(out) * n_samples :])
    return out


def cached_embeddings(
    records: Sequence[TrackRecord],
    tracks: Sequence[np.ndarray],
    *,
    cache: FeatureCache,
    params: dict[str, Any],
    hop_s: float,
    batch_size: int = 32,
    progress: bool = False,
) -> list[np.ndarray]:
    """Frozen musicnn embeddings of the 16 kHz windows of each track, through the feature cache.

    Windows of all the tracks missing from the cache are embedded together in batches
    (much faster than track by track), then stored per track.

    Parameters
    ----------
    records : sequence of TrackRecord
        The tracks (their file content keys the cache).
    tracks : sequence of np.ndarray [shape=(n_samples,), dtype=float32]
        The decoded 16 kHz excerpts of the same tracks.
    cache : FeatureCache
    params : dict
        ``backbones``, ``embeddings``, ``pad_mode`` (and anything else that changes the
        result, e.g. ``max_track_s``): part of the key.
    hop_s : float
        Seconds between window starts.
    batch_size : int
    progress : bool

    Returns
    -------
    list of np.ndarray [shape=(n_windows, n_features), dtype=float32]
    """
    import torch
    from tqdm.auto import tqdm

    from genrekit.datasets import feature_key
    from genrekit.audio.windows import slice_windows
    from genrekit.models.heads import WINDOW_LENGTH, extract_embeddings
    from genrekit.models.musicnn import SAMPLE_RATE, load_pretrained

    key_params = {**params, "hop_s": hop_s}
    hop = max(1, int(round(hop_s * SAMPLE_RATE)))
    keys = [feature_key(cache.content_hash(r.path), key_params, feature=EMBEDDING_FEATURE_NAME,
                       version=EMBEDDING_FEATURE_VERSION) for r in records]
    out: list[np.ndarray | None] = [cache.get(key) for key in keys]
    missing = [i for i, value in enumerate(out) if value is None]
    if missing:
        models = {name: load_pretrained(name) for name in params["backbones"]}
        windows = [
            torch.from_numpy(slice_windows(tracks[i], window_length=WINDOW_LENGTH, hop_length=hop)[2]) for i in missing
        ]
        counts = [w.shape[0] for w in windows]
        stacked = torch.cat(windows).contiguous()
        chunks = []
        step = batch_size * 8
        for start in tqdm(
            range(0, stacked.shape[0], step), desc="musicnn embeddings", unit="chunk", disable=not progress
        ):
            chunks.append(
                extract_embeddings(
                    stacked[start : start + step],
                    params["backbones"],
                    params["embeddings"],
                    batch_size=batch_size,
                    pad_mode=params["pad_mode"],
                    models=models,
                )
            )
        embeddings = np.concatenate(chunks)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        for j, i in enumerate(missing):
            value = embeddings[offsets[j] : offsets[j + 1]]
            cache.put(keys[i], value)
            out[i] = value
    return [np.asarray(value, dtype=np.float32) for value in out]  # type: ignore[arg-type]


def cached_arrays(
    records: Sequence[TrackRecord],
    fn: Callable[..., np.ndarray],
    params: dict[str, Any],
    *,
    cache: FeatureCache,
    feature: str,
    n_jobs: int,
    progress: bool,
) -> tuple[list[np.ndarray | None], list[dict[str, str]]]:
    """``fn(path, **params)`` for every record through the feature cache.

    Returns
    -------
    (list, list)
        The array of each record (``None`` where it failed), and one
        ``{"track_id", "path", "error"}`` per failure.
    """
    result = compute_cached(
        [r.path for r in records], fn, params, cache=cache, feature=feature, n_jobs=n_jobs, progress=progress
    )
    arrays: list[np.ndarray | None] = []
    for i in range(len(records)):
        arrays.append(result.load(i) if result.entries[i] is not None else None)
    failures = []
    failed_paths = {str(f.path): f for f in result.errors}
    for record, array in zip(records, arrays, strict=True):
        if array is None:
            failure = failed_paths.get(str(record.path))
            message = f"{failure.error}: {failure.message}" if failure else "failed"
            failures.append({"track_id": record.track_id, "path": str(record.path), "error": message})
    if failures:
        warnings.warn(
            f"{len(failures)} track(s) could not be read and are left out: "
            + "; ".join(f"{f['path']} ({f['error']})" for f in failures[:5]),
            stacklevel=2,
        )
    return arrays, failures


def drop_unknown_labels(
    records: Sequence[TrackRecord], labels: Sequence[str]
) -> tuple[list[TrackRecord], list[TrackRecord]]:
    """Split records into those whose label is in ``labels`` and the others."""
    known = set(labels)
    kept = [r for r in records if r.label in known]
    dropped = [r for r in records if r.label not in known]
    return kept, dropped


def with_split(records: Sequence[TrackRecord], split: str) -> list[TrackRecord]:
    """Copies of the records with ``split`` set (for fingerprints of the splits actually used)."""
    return [dataclasses.replace(r, split=split) for r in records]
