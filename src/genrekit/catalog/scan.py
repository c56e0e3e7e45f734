"""``genrekit scan``: classify a whole library into the database, resumably.

Plan (cheap: one ``stat`` per file and one query for the library)
    Each file found by :func:`~genrekit.catalog.walk.walk_library` is compared with its
    stored row: same size and mtime and the current model -> nothing to do; an older
    model -> stale (redone only with ``rescan_stale``); a stored failure -> redone only
    with ``retry_failed`` or when the file changed; new or changed -> to do.
Hash (in the calling process, while the workers classify)
    A changed file whose content hash is the stored one only gets its size/mtime updated;
    a file whose content is already classified by this model (a copy, a moved file, an
    upload to the service) is linked to that result without running the model.
Classify (the batch engine, or Ray)
    Every outcome is committed as soon as it comes back, so a killed run loses at most
    the songs in flight and a rerun picks up the rest.

:func:`scan_to_parquet` classifies a library on Ray into a Parquet dataset instead, without
the database.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from genrekit.batch.engine import Job, Outcome, hash_file, plain_reason
from genrekit.batch.progress import Progress
from genrekit.batch.records import RECORD_COLUMNS
from genrekit.catalog import database
from genrekit.catalog.walk import walk_library
from genrekit.store.tables import LibraryTrack

if TYPE_CHECKING:
    from genrekit.batch.ray_engine import RayRunner

Runner = Callable[[Iterable[Job]], Iterator[Outcome]]


@dataclass
class ScanSummary:
    """What one scan did (counts of files) and the library's genres afterwards."""

    n_found: int = 0
    n_unchanged: int = 0
    n_stale_skipped: int = 0
    n_failed_skipped: int = 0
    n_classified: int = 0
    n_reused: int = 0
    n_failed: int = 0
    elapsed_s: float = 0.0
    classify_s: float = 0.0
    genre_counts: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def songs_per_s(self) -> float:
        """Songs classified by the model per second of the classification stage."""
        return self.n_classified / self.classify_s if self.classify_s > 0 else 0.0

    def lines(self) -> list[str]:
        """The closing summary, one line each."""
        out = [
            f"{self.n_found} {'file' if self.n_found == 1 else 'files'} found: {self.n_classified} classified, {self.n_reused} already known by content, "
            f"{self.n_unchanged} unchanged, {self.n_failed} failed",
        ]
        if self.n_stale_skipped:
            out.append(f"{self.n_stale_skipped} stale (classified by another model version): --rescan-stale redoes them")
        if self.n_failed_skipped:
            out.append(f"{self.n_failed_skipped} failed before and unchanged: --retry-failed tries them again")
        out.append(f"{self.songs_per_s:.2f} songs/s ({self.n_classified} in {self.classify_s:.1f} s), "
                   f"total {self.elapsed_s:.1f} s")
        if self.genre_counts:
            width = max(len(g) for g in self.genre_counts)
            out.append("library by genre:")
            out.extend(f"  {genre:<{width}}  {count}" for genre, count in
                       sorted(self.genre_counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return out


@dataclass(frozen=True)
class _Todo:
    path: str
    size_bytes: int
    mtime_ns: int
    stored: database.StoredTrack | None


def library_root(path: str | os.PathLike[str]) -> str:
    """The absolute path a library is stored under (symlinks in it are kept, not resolved)."""
    return os.path.abspath(os.fspath(path))


def scan_library(
    root: str | os.PathLike[str],
    *,
    sessions: sessionmaker[Session],
    runner: Runner,
    model: database.ModelIdentity,
    rescan_stale: bool = False,
    retry_failed: bool = False,
    progress: Callable[[int], Progress] | None = None,
    on_failure: Callable[[str, str], None] | None = None,
    embedding_space: str | None = None,
) -> ScanSummary:
    """Scan ``root`` into the database and return the summary.

    Parameters
    ----------
    root : path
        Library folder.
    sessions : sessionmaker
        Database sessions (see :func:`genrekit.catalog.database.open_database`).
    runner : callable
        ``runner(jobs) -> outcomes`` in job order: :meth:`BatchEngine.run` or the Ray engine.
    model : ModelIdentity
        Name and version of the model the runner uses (stored results of another are stale).
    rescan_stale, retry_failed : bool
        Redo files classified by another model version / files that failed before.
    progress : callable or None
        ``progress(total) -> Progress`` for the songs to do.
    on_failure : callable or None
        ``on_failure(path, reason)`` for each file that fails, as it fails.
    embedding_space : str or None
        The model's embedding space: results carrying an embedding (the runner predicts with
        ``embed=True``) store it for similarity search.
    """
    start = time.monotonic()
    library = library_root(root)
    if not os.path.isdir(library):
        from genrekit.errors import InvalidParameterError

        raise InvalidParameterError(f"{root} is not a directory")
    summary = ScanSummary()
    with sessions() as session:
        known = database.stored_tracks(session, library=library)
        todo = _plan(library, known, model, summary, rescan_stale=rescan_stale, retry_failed=retry_failed,
                     session=session, on_failure=on_failure)
        bar = progress(len(todo)) if progress is not None else None
        by_path = {item.path: item for item in todo}

        def fail(path: str, size: int, mtime: int, sha: str | None, reason: str) -> None:
            database.record_failure(session, path=path, library=library, size_bytes=size, mtime_ns=mtime,
                                 sha256=sha, model=model, error=reason)
            summary.n_failed += 1
            summary.failures.append((path, reason))
            if on_failure is not None:
                on_failure(path, reason)
            if bar is not None:
                bar.update(failed=True)

        jobs = _jobs(todo, session, library, model, summary, fail, bar)
        classify_start = time.monotonic()
        try:
            for outcome in runner(jobs):
                item = by_path[str(outcome.job.source)]
                if outcome.ok and outcome.sha256 is not None and outcome.result is not None:
                    database.record_result(session, path=item.path, library=library, size_bytes=item.size_bytes,
                                        mtime_ns=item.mtime_ns, sha256=outcome.sha256, result=outcome.result,
                                        embedding_space=embedding_space)
                    summary.n_classified += 1
                    if bar is not None:
                        bar.update()
                else:
                    fail(item.path, item.size_bytes, item.mtime_ns, outcome.sha256,
                         f"{outcome.error_type}: {outcome.error}")
        finally:
            summary.classify_s = time.monotonic() - classify_start
            if bar is not None:
                bar.close()
        summary.genre_counts = genre_counts(session, library=library)
    summary.elapsed_s = time.monotonic() - start
    return summary


def _plan(
    library: str,
    known: dict[str, database.StoredTrack],
    model: database.ModelIdentity,
    summary: ScanSummary,
    *,
    rescan_stale: bool,
    retry_failed: bool,
    session: Session,
    on_failure: Callable[[str, str], None] | None,
) -> list[_Todo]:
    todo: list[_Todo] = []
    for found in walk_library(library):
        path = str(found)
        summary.n_found += 1
        stored = known.get(path)
        try:
            info = os.stat(path)
        except OSError as error:
            link = _lstat(path)
            size, mtime = (int(link.st_size), int(link.st_mtime_ns)) if link is not None else (0, 0)
            if (stored is not None and stored.status != database.STATUS_OK and not retry_failed
                    and (stored.size_bytes, stored.mtime_ns) == (size, mtime)):
                summary.n_failed_skipped += 1
                continue
            reason = f"{type(error).__name__}: {plain_reason(error, path)}"
            if link is not None:
                reason = "broken symbolic link: " + reason
            database.record_failure(session, path=path, library=library, size_bytes=size, mtime_ns=mtime, sha256=None,
                                 model=model, error=reason)
            summary.n_failed += 1
            summary.failures.append((path, reason))
            if on_failure is not None:
                on_failure(path, reason)
            continue
        if stored is not None and stored.size_bytes == info.st_size and stored.mtime_ns == info.st_mtime_ns:
            if stored.model != model and stored.status == database.STATUS_OK:
                if not rescan_stale:
                    summary.n_stale_skipped += 1
                    continue
            elif stored.status != database.STATUS_OK and not retry_failed:
                summary.n_failed_skipped += 1
                continue
            elif stored.status == database.STATUS_OK:
                summary.n_unchanged += 1
                continue
        todo.append(_Todo(path, int(info.st_size), int(info.st_mtime_ns), stored))
    return todo


def _jobs(
    todo: list[_Todo],
    session: Session,
    library: str,
    model: database.ModelIdentity,
    summary: ScanSummary,
    fail: Callable[[str, int, int, str | None, str], None],
    bar: Progress | None,
) -> Iterator[Job]:
    """Jobs for the files to classify; files whose content is already known are settled here."""
    for item in todo:
        try:
            sha256 = hash_file(item.path)
        except OSError as error:
            fail(item.path, item.size_bytes, item.mtime_ns, None, f"{type(error).__name__}: {plain_reason(error, item.path)}")
            continue
        stored = item.stored
        if (stored is not None and stored.sha256 == sha256 and stored.model == model
                and stored.status == database.STATUS_OK):
            database.touch_track(session, path=item.path, size_bytes=item.size_bytes, mtime_ns=item.mtime_ns)
            summary.n_unchanged += 1
            if bar is not None:
                bar.update()
            continue
        known = database.find_classification(session, sha256=sha256, model=model)
        if known is not None:
            database.link_classification(session, path=item.path, library=library, size_bytes=item.size_bytes,
                                      mtime_ns=item.mtime_ns, classification=known)
            summary.n_reused += 1
            if bar is not None:
                bar.update()
            continue
        yield Job(source=item.path, name=os.path.relpath(item.path, library))


def _lstat(path: str) -> os.stat_result | None:
    """The link's own status for a symbolic link, else None."""
    try:
        return os.lstat(path) if os.path.islink(path) else None
    except OSError:
        return None


def genre_counts(session: Session, *, library: str) -> dict[str, int]:
    """Classified files of ``library`` per top genre."""
    statement = (
        select(LibraryTrack.top_genre, func.count())
        .where(LibraryTrack.library == library, LibraryTrack.status == database.STATUS_OK)
        .group_by(LibraryTrack.top_genre)
    )
    return {str(genre): int(count) for genre, count in session.execute(statement)}


def scan_to_parquet(runner: RayRunner, library: str, out_dir: str) -> tuple[int, int]:
    """Classify every audio file of ``library`` on Ray into a Parquet dataset in ``out_dir``.

    The database is not used: this is the path for a catalog kept on a cluster's
    storage (``out_dir`` may be any path or URI Ray's ``write_parquet`` takes). The
    walk is consumed ``JOBS_PER_DATASET`` files at a time (:mod:`genrekit.batch.ray_engine`),
    so the driver's memory does not grow with the catalog; each chunk adds its own files to
    the dataset.

    Returns
    -------
    n_files, n_failed : int
    """
    from genrekit.batch.ray_engine import JOBS_PER_DATASET

    root = library_root(library)
    paths = iter(walk_library(root))
    n_files = n_failed = 0
    while chunk := [Job(source=str(p), name=os.path.relpath(p, root)) for p in itertools.islice(paths, JOBS_PER_DATASET)]:
        records = runner.dataset(chunk, library=root).select_columns(list(RECORD_COLUMNS)).materialize()
        records.write_parquet(out_dir)
        n_files += len(chunk)
        n_failed += sum(1 for row in records.iter_rows() if row["status"] != "ok")
    return n_files, n_failed
