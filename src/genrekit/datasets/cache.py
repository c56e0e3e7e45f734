"""On-disk feature cache keyed by file content, and :func:`compute_cached` to fill it.

An entry's key is the SHA-256 of

* the audio file's content (SHA-256 of its bytes: renaming or moving a file keeps its
  entries, editing it invalidates them),
* the feature's name and version string (bump the version when the feature code changes),
* the canonical JSON of the feature parameters (sorted keys, no blanks).

Entries are ``.npy`` files (``allow_pickle=False``) written to a temporary name and moved
into place with ``os.replace``, so an interrupted job never leaves a half-written entry and
a rerun computes only what is missing. Content hashes are remembered per
``(path, size, mtime)`` in a small SQLite table beside the entries, so unchanged files
are not read again.

Layout::

    <root>/content-hashes.sqlite3
    <root>/entries/<key[:2]>/<key>.npy
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from genrekit import settings
from genrekit.datasets.records import TrackRecord
from genrekit.errors import DatasetError, InvalidParameterError
from genrekit.pool import check_n_jobs, run_tasks

ON_ERROR_MODES = ("record", "raise")
_CHUNK_BYTES = 1 << 20  # read size when hashing files
_COMMIT_EVERY = 256  # files hashed between commits of the hash memo


def default_cache_dir() -> Path:
    """Default feature cache folder.

    ``$GENREKIT_CACHE_DIR/features`` if that variable is set, else
    ``$XDG_CACHE_HOME/genrekit/features``, else ``~/.cache/genrekit/features``.
    """
    return settings.cache_dir() / "features"


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _canonical(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise InvalidParameterError(f"feature parameter {where} is not finite: {value!r}")
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidParameterError(f"feature parameter keys must be strings; {where} has {key!r}")
            out[key] = _canonical(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_canonical(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise InvalidParameterError(
        f"feature parameter {where} has type {type(value).__name__}; use JSON types "
        "(str, int, float, bool, None, lists, dicts of str keys)"
    )


def canonical_params(params: Mapping[str, Any]) -> str:
    """Canonical JSON of feature parameters: sorted keys, no blanks, tuples as lists.

    Raises
    ------
    InvalidParameterError
        For values that are not plain JSON data, or NaN/infinite floats.
    """
    return json.dumps(_canonical(dict(params), "params"), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def feature_key(content_sha256: str, params: Mapping[str, Any], *, feature: str, version: str = "1") -> str:
    """Cache key (64 hex digits) of one feature of one file's content.

    Parameters
    ----------
    content_sha256 : str
        :func:`file_sha256` of the audio file.
    params : mapping
        Feature parameters (see :func:`canonical_params`).
    feature : str
        Feature name, e.g. ``"genrekit.features.musicnn_input"``.
    version : str
        Feature version; change it when the feature's code changes.
    """
    payload = json.dumps(
        {
            "content": content_sha256,
            "feature": feature,
            "version": str(version),
            "params": json.loads(canonical_params(params)),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` as ``.npy`` (no pickle) via a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem[:16]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise


class FeatureCache:
    """Feature arrays on disk, keyed by audio content, feature and parameters.

    Parameters
    ----------
    root : str or Path, optional
        Cache folder; default :func:`default_cache_dir`. Created on first write.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self._memo: dict[tuple[str, int, int], str] = {}

    def __repr__(self) -> str:
        return f"FeatureCache({str(self.root)!r})"

    @property
    def entries_dir(self) -> Path:
        """Folder holding the ``.npy`` entries."""
        return self.root / "entries"

    def path_for(self, key: str) -> Path:
        """Where the entry of ``key`` lives (whether or not it exists)."""
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise InvalidParameterError(f"not a cache key: {key!r}")
        return self.entries_dir / key[:2] / f"{key}.npy"

    def __contains__(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def get(self, key: str, *, mmap: bool = False) -> np.ndarray | None:
        """The stored array, or ``None`` if absent. ``mmap=True`` maps it read-only."""
        path = self.path_for(key)
        try:
            return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise DatasetError(f"cache entry {path} is unreadable: {e}") from e

    def put(self, key: str, array: np.ndarray) -> Path:
        """Store ``array`` under ``key`` atomically; returns the entry's path."""
        array = np.asarray(array)
        if array.dtype == object:
            raise InvalidParameterError("cannot cache an object array (no pickle)")
        path = self.path_for(key)
        save_npy_atomic(path, array)
        return path

    def __len__(self) -> int:
        if not self.entries_dir.is_dir():
            return 0
        return sum(1 for _ in self.entries_dir.glob("*/*.npy"))

    def remove_temporary_files(self) -> int:
        """Delete temporary files left by killed writers; returns how many."""
        if not self.entries_dir.is_dir():
            return 0
        n_removed = 0
        for path in self.entries_dir.glob("*/.*.tmp"):
            try:
                path.unlink()
                n_removed += 1
            except OSError:
                pass
        return n_removed

    @property
    def hash_db_path(self) -> Path:
        """SQLite file remembering content hashes per (path, size, mtime)."""
        return self.root / "content-hashes.sqlite3"

    def _connect(self) -> sqlite3.Connection | None:
        """Open the hash memo; ``None`` where it cannot be used (read-only, locked, damaged):
        the memo only saves time, so hashing then simply happens again next run."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.hash_db_path, timeout=30)
            connection.execute(
                "CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT)"
            )
        except (OSError, sqlite3.Error):
            return None
        return connection

    def content_hashes(
        self, paths: Sequence[str | Path], *, n_threads: int = 2, progress: bool = False
    ) -> list[str | BaseException]:
        """SHA-256 of each file's bytes, remembered per (path, size, mtime).

        Parameters
        ----------
        paths : sequence of str or Path
            Files to hash.
        n_threads : int
            Threads reading files not seen before.
        progress : bool
            Show a progress bar on stderr while hashing.

        Returns
        -------
        list
            Per path: the hex digest, or the ``OSError`` that prevented reading it.
        """
        out: list[str | BaseException] = [""] * len(paths)
        stats: dict[int, tuple[str, int, int]] = {}
        for i, path in enumerate(paths):
            try:
                resolved = Path(path).resolve()
                st = resolved.stat()
            except OSError as e:
                out[i] = e
                continue
            stats[i] = (str(resolved), st.st_size, st.st_mtime_ns)
        todo = [i for i, memo_key in stats.items() if memo_key not in self._memo]
        if todo:
            connection = self._connect()
            try:
                if connection is not None:
                    self._recall(connection, [stats[i] for i in todo])
                missing = [i for i in todo if stats[i] not in self._memo]
                if missing:
                    self._hash_files(missing, stats, out, connection, n_threads=n_threads, progress=progress)
            finally:
                if connection is not None:
                    connection.close()
        for i, memo_key in stats.items():
            if memo_key in self._memo:
                out[i] = self._memo[memo_key]
        return out

    def _recall(self, connection: sqlite3.Connection, memo_keys: list[tuple[str, int, int]]) -> None:
        try:
            for memo_key in memo_keys:
                row = connection.execute(
                    "SELECT sha256 FROM hashes WHERE path = ? AND size = ? AND mtime_ns = ?", memo_key
                ).fetchone()
                if row is not None:
                    self._memo[memo_key] = row[0]
        except sqlite3.Error:
            return

    def _hash_files(
        self,
        indices: list[int],
        stats: dict[int, tuple[str, int, int]],
        out: list[str | BaseException],
        connection: sqlite3.Connection | None,
        *,
        n_threads: int,
        progress: bool,
    ) -> None:
        """Hash the files of ``indices`` in threads; remember each digest, committing the
        memo every :data:`_COMMIT_EVERY` files so an interrupted run keeps most of its work."""
        n_uncommitted = 0
        with (
            ThreadPoolExecutor(max_workers=max(1, n_threads)) as pool,
            tqdm(total=len(indices), desc="hashing", unit="file", file=sys.stderr, disable=not progress) as bar,
        ):
            futures = {i: pool.submit(file_sha256, stats[i][0]) for i in indices}
            try:
                for i, future in futures.items():
                    try:
                        digest = future.result()
                    except OSError as e:
                        out[i] = e
                        continue
                    finally:
                        bar.update(1)
                    self._memo[stats[i]] = digest
                    if connection is not None:
                        connection = self._remember(connection, stats[i], digest)
                        n_uncommitted += 1
                        if connection is not None and n_uncommitted >= _COMMIT_EVERY:
                            connection.commit()
                            n_uncommitted = 0
            finally:
                for future in futures.values():
                    future.cancel()
                if connection is not None and n_uncommitted:
                    try:
                        connection.commit()
                    except sqlite3.Error:
                        pass

    @staticmethod
    def _remember(
        connection: sqlite3.Connection, memo_key: tuple[str, int, int], digest: str
    ) -> sqlite3.Connection | None:
        try:
            connection.execute("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?)", (*memo_key, digest))
        except sqlite3.Error:
            return None
        return connection

    def content_hash(self, path: str | Path) -> str:
        """SHA-256 of one file's bytes (memoised); raises ``DatasetError`` if unreadable."""
        (result,) = self.content_hashes([path])
        if isinstance(result, BaseException):
            raise DatasetError(f"cannot read {path}: {result}") from result
        return result


@dataclass(frozen=True)
class FailedFile:
    """A file whose feature could not be computed.

    Attributes
    ----------
    path : Path
        The audio file.
    error : str
        Exception type name (``"AudioDecodeError"``, ``"FileNotFoundError"``,
        ``"WorkerCrash"`` when the worker process died on it).
    message : str
        The exception's message.
    """

    path: Path
    error: str
    message: str


@dataclass(frozen=True)
class CachedFeatures:
    """Outcome of :func:`compute_cached`, aligned with its input records.

    Attributes
    ----------
    paths : tuple of Path
        Audio file of each input record.
    entries : tuple of (Path or None)
        Cache entry (``.npy``) of each record; ``None`` where it failed.
    n_cached : int
        Distinct entries that were already in the cache.
    n_computed : int
        Distinct entries computed by this call.
    errors : tuple of FailedFile
        One per failed record, in input order.
    """

    paths: tuple[Path, ...]
    entries: tuple[Path | None, ...]
    n_cached: int
    n_computed: int
    errors: tuple[FailedFile, ...]

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def ok(self) -> list[int]:
        """Indices of the records whose feature is available."""
        return [i for i, entry in enumerate(self.entries) if entry is not None]

    def load(self, index: int, *, mmap: bool = False) -> np.ndarray:
        """The feature array of record ``index``.

        Raises
        ------
        DatasetError
            If that record failed, or its entry has since become unreadable.
        """
        entry = self.entries[index]
        if entry is None:
            raise DatasetError(f"no feature for {self.paths[index]}: it failed to compute")
        try:
            return np.load(entry, allow_pickle=False, mmap_mode="r" if mmap else None)
        except (OSError, ValueError) as e:
            raise DatasetError(f"cache entry {entry} of {self.paths[index]} is unreadable: {e}") from e


def _compute_entry(
    fn: Callable[..., np.ndarray], path: str, params: dict[str, Any], entry: str
) -> tuple[str, str] | None:
    """Worker: compute ``fn(path, **params)`` and store it at ``entry``; an error as (type, message)."""
    try:
        value = fn(Path(path), **params)
        if not isinstance(value, np.ndarray):
            raise TypeError(f"feature function returned {type(value).__name__}, not a numpy array")
        if value.dtype == object:
            raise TypeError("feature function returned an object array (cannot be stored without pickle)")
        save_npy_atomic(Path(entry), value)
    except Exception as e:  # noqa: BLE001 - one bad file must not stop a dataset job
        return (type(e).__name__, str(e))
    return None


def feature_name(fn: Callable[..., Any]) -> str:
    """Default feature name of a function: ``module.qualname``."""
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def compute_cached(
    records: Iterable[TrackRecord | str | Path],
    fn: Callable[..., np.ndarray],
    params: Mapping[str, Any] | None = None,
    *,
    cache: FeatureCache | None = None,
    feature: str | None = None,
    version: str = "1",
    n_jobs: int = 2,
    progress: bool = True,
    on_error: str = "record",
) -> CachedFeatures:
    """Compute a feature for every file, reusing and filling a :class:`FeatureCache`.

    Only entries missing from the cache are computed, in ``n_jobs`` worker processes with
    a progress bar on stderr; rerunning after an interruption resumes where it stopped.
    Files with identical content are computed once.

    Parameters
    ----------
    records : iterable of TrackRecord, str or Path
        The audio files.
    fn : callable
        ``fn(path: Path, **params) -> np.ndarray``; must be a top-level function (it is
        pickled to the workers; in a script, guard the call with
        ``if __name__ == "__main__":``).
    params : mapping, optional
        Keyword arguments of ``fn``, JSON data only; part of the key.
    cache : FeatureCache, optional
        Default: ``FeatureCache()`` at :func:`default_cache_dir`.
    feature : str, optional
        Name in the key; default ``module.qualname`` of ``fn``.
    version : str
        Feature version in the key; bump it when ``fn``'s output changes.
    n_jobs : int
        Worker processes (1: in this process; -1: one per core).
    progress : bool
        Show progress bars on stderr.
    on_error : {"record", "raise"}
        ``"record"``: a failing file becomes a :class:`FailedFile` and the others go on;
        ``"raise"``: stop at the first failure with :class:`DatasetError`.

    Returns
    -------
    CachedFeatures

    Raises
    ------
    KeyboardInterrupt
        Passed on (entries finished so far stay in the cache).
    """
    if on_error not in ON_ERROR_MODES:
        raise InvalidParameterError(f"on_error must be one of {ON_ERROR_MODES}, got {on_error!r}")
    n_jobs = check_n_jobs(n_jobs)
    if not callable(fn):
        raise InvalidParameterError("fn must be callable")
    params = dict(params or {})
    canonical_params(params)
    cache = cache if cache is not None else FeatureCache()
    name = feature if feature is not None else feature_name(fn)
    paths = tuple(Path(r.path) if isinstance(r, TrackRecord) else Path(r) for r in records)

    hashes = cache.content_hashes(paths, n_threads=n_jobs, progress=progress)
    keys: list[str | None] = [None] * len(paths)
    failures: dict[int, FailedFile] = {}
    for i, digest in enumerate(hashes):
        if isinstance(digest, BaseException):
            failures[i] = FailedFile(paths[i], type(digest).__name__, str(digest))
        else:
            keys[i] = feature_key(digest, params, feature=name, version=version)
    if failures and on_error == "raise":
        first = min(failures)
        raise DatasetError(f"{paths[first]}: {failures[first].error}: {failures[first].message}")

    first_index: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key is not None and key not in first_index:
            first_index[key] = i
    todo = [key for key in first_index if key not in cache]
    n_cached = len(first_index) - len(todo)
    failed_keys: dict[str, tuple[str, str]] = {}
    tasks = [(fn, str(paths[first_index[key]]), params, str(cache.path_for(key))) for key in todo]

    with tqdm(
        total=len(tasks), desc=name.rsplit(".", 1)[-1], unit="file", file=sys.stderr, disable=not progress
    ) as bar:

        def on_result(task_index: int, result: tuple[str, str] | None) -> None:
            bar.update(1)
            if result is not None:
                if on_error == "raise":
                    path = tasks[task_index][1]
                    raise DatasetError(f"{path}: {result[0]}: {result[1]}")
                failed_keys[todo[task_index]] = result

        def on_crash(task_index: int) -> None:
            on_result(task_index, ("WorkerCrash", "the worker process died while computing this file"))

        run_tasks(_compute_entry, tasks, n_jobs=n_jobs, on_result=on_result, on_crash=on_crash)

    entries: list[Path | None] = []
    for i, key in enumerate(keys):
        if key is None:
            entries.append(None)
        elif key in failed_keys:
            failures[i] = FailedFile(paths[i], *failed_keys[key])
            entries.append(None)
        else:
            entries.append(cache.path_for(key))
    return CachedFeatures(
        paths=paths,
        entries=tuple(entries),
        n_cached=n_cached,
        n_computed=len(todo) - len(failed_keys),
        errors=tuple(failures[i] for i in sorted(failures)),
    )


__all__ = [
    "CachedFeatures",
    "FailedFile",
    "FeatureCache",
    "canonical_params",
    "compute_cached",
    "default_cache_dir",
    "feature_key",
    "feature_name",
    "file_sha256",
]
