"""Genre folders from scan results (``genrekit organize``), undoable.

Each classified file of the library goes to ``OUT_DIR/<top genre>/<file name>`` as a
symbolic link (default), a copy, or moved. A name already taken there (another file of
the same name, or one that was already there) gets `` (2)``, `` (3)``, ... before its
extension. Nothing is overwritten.

``move`` is never destructive: on the same file system it is one atomic ``rename``;
across file systems the file is copied to a temporary name beside its target, flushed to
disk, checked (size and SHA-256), renamed into place, and only then is the source removed.
Any error leaves the source where it was.

Every run (but a dry run) writes a manifest, ``OUT_DIR/.genrekit/organize-<time>.jsonl``,
one JSON line per file done, appended and flushed as it goes (a crashed run can be undone
too). :func:`undo` reverses it: links and copies that are unchanged are removed, moved
files go back the same safe way, and genre folders left empty are removed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from genrekit.batch.engine import hash_file
from genrekit.catalog.export import safe_file_name
from genrekit.catalog.database import TrackRecord
from genrekit.errors import GenrekitError

MODES = ("symlink", "copy", "move")
MANIFEST_DIR = ".genrekit"


@dataclass(frozen=True)
class Placement:
    """One planned file: where it is and where it goes."""

    source: str
    target: str
    genre: str


def plan(tracks: Iterable[TrackRecord], out_dir: str | os.PathLike[str]) -> list[Placement]:
    """Targets for the classified tracks, collisions resolved (also with files already in ``out_dir``)."""
    out = Path(out_dir).absolute()
    taken: set[str] = set()
    placements = []
    for track in tracks:
        if track.status != "ok" or not track.top_genre:
            continue
        folder = out / safe_file_name(track.top_genre)
        name = Path(track.path).name
        target = _free_name(folder, name, taken)
        taken.add(str(target))
        placements.append(Placement(source=track.path, target=str(target), genre=track.top_genre))
    return placements


def _free_name(folder: Path, name: str, taken: set[str]) -> Path:
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate = folder / name
    index = 2
    while str(candidate) in taken or os.path.lexists(candidate):
        candidate = folder / f"{stem} ({index}){suffix}"
        index += 1
    return candidate


def safe_move(source: str, target: str) -> None:
    """Move ``source`` to ``target`` (which must not exist) without ever losing it.

    Same file system: ``os.rename`` (atomic). Otherwise: copy to a temporary name beside
    ``target``, fsync, compare size and SHA-256, rename into place, then remove the source.
    """
    if os.path.lexists(target):
        raise FileExistsError(f"{target} already exists")
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        if os.stat(source).st_dev == os.stat(Path(target).parent).st_dev:
            os.rename(source, target)
            return
    except OSError:
        pass
    temporary = f"{target}.genrekit-partial"
    try:
        shutil.copy2(source, temporary)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        if os.path.getsize(temporary) != os.path.getsize(source) or hash_file(temporary) != hash_file(source):
            raise OSError(f"the copy of {source} does not match it")
        os.rename(temporary, target)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise
    os.unlink(source)


def _place(placement: Placement, mode: str) -> None:
    target = Path(placement.target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode == "symlink":
        os.symlink(os.path.abspath(placement.source), target)
    elif mode == "copy":
        if os.path.lexists(target):
            raise FileExistsError(f"{target} already exists")
        shutil.copy2(placement.source, target)
    else:
        safe_move(placement.source, str(target))


def new_manifest_path(out_dir: str | os.PathLike[str]) -> Path:
    """A fresh manifest path in ``out_dir``'s hidden ``.genrekit`` folder."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return Path(out_dir).absolute() / MANIFEST_DIR / f"organize-{stamp}.jsonl"


def run_organize(placements: list[Placement], *, mode: str, manifest: Path) -> Iterator[tuple[Placement, str | None]]:
    """Place each file, appending a manifest line per file done; yields ``(placement, error or None)``.

    A failed file (unreadable source, no space, ...) is reported and the others go on.
    """
    if mode not in MODES:
        raise GenrekitError(f"mode must be one of {MODES}, got {mode!r}")
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest, "a", encoding="utf-8") as log:
        for placement in placements:
            try:
                _place(placement, mode)
            except OSError as error:
                yield placement, error.strerror or str(error)
                continue
            entry = {"mode": mode, "source": placement.source, "target": placement.target, "genre": placement.genre}
            if mode == "copy":
                info = os.stat(placement.target)
                entry.update(size_bytes=info.st_size, mtime_ns=info.st_mtime_ns)
            log.write(json.dumps(entry) + "\n")
            log.flush()
            os.fsync(log.fileno())
            yield placement, None


def read_manifest(manifest: str | os.PathLike[str]) -> list[dict[str, object]]:
    """The entries of a manifest (a truncated last line from a crash is ignored)."""
    entries = []
    with open(manifest, encoding="utf-8") as handle:
        for line in handle:
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return entries


def undo(manifest: str | os.PathLike[str]) -> Iterator[tuple[dict[str, object], str | None]]:
    """Reverse a manifest, last entry first; yields ``(entry, problem or None)``.

    A link or copy changed since (replaced, edited) is left alone and reported; a moved
    file whose original place is taken again is left where it is and reported. When every
    entry is undone, the manifest is renamed ``*.undone`` and empty genre folders removed.
    """
    entries = read_manifest(manifest)
    problems = 0
    folders: set[Path] = set()
    for entry in reversed(entries):
        source, target, mode = str(entry["source"]), str(entry["target"]), str(entry["mode"])
        folders.add(Path(target).parent)
        problem = _undo_one(mode, source, target, entry)
        problems += problem is not None
        yield entry, problem
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:
            pass
    if problems == 0:
        os.replace(manifest, f"{manifest}.undone")


def _undo_one(mode: str, source: str, target: str, entry: dict[str, object]) -> str | None:
    if not os.path.lexists(target):
        return "already gone" if mode != "move" else "the moved file is gone"
    if mode == "symlink":
        if not os.path.islink(target) or os.readlink(target) != os.path.abspath(source):
            return "no longer the link genrekit made; left alone"
        os.unlink(target)
        return None
    if mode == "copy":
        info = os.stat(target)
        if (info.st_size, info.st_mtime_ns) != (entry.get("size_bytes"), entry.get("mtime_ns")):
            return "the copy changed since; left alone"
        os.unlink(target)
        return None
    if os.path.lexists(source):
        return "its original place is taken; left where it is"
    try:
        safe_move(target, source)
    except OSError as error:
        return f"could not move it back: {error.strerror or error}"
    return None
