"""Predicted genres written into the files' own metadata with mutagen, undoable (``genrekit tag``).

Containers and fields
---------------------
============  ==================  ==================  ===============
field         ID3 (MP3)           Vorbis comments     MP4 atoms (M4A)
                                  (FLAC, Ogg, Opus)
============  ==================  ==================  ===============
genre         TCON                GENRE               ``©gen`` (and ``gnre``)
grouping      TIT1                GROUPING            ``©grp``
comment       COMM (no desc.)     COMMENT             ``©cmt``
============  ==================  ==================  ===============

Other containers are skipped (reported). A file whose field already holds a value keeps
it unless ``overwrite``.

Safety
------
* Before a file is changed, its old values (the exact frames, comments or atoms of the
  field, with their ID3 version and text encodings; for Vorbis comments the whole ordered
  comment list) are appended to a backup file, ``LIBRARY/.genrekit/tag-backup-<time>.jsonl``,
  and flushed to disk. :func:`undo_tags` puts them back.
* The file is never edited in place: a copy beside it is tagged, its audio data
  (:mod:`genrekit.catalog.payload`) is compared with the original's, and only if they are
  identical does the copy replace the file (one atomic rename). A crash leaves either the
  old file or the new one, never half of one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrekit.catalog.payload import PayloadError, payload_digest
from genrekit.errors import GenrekitError

FIELDS = ("genre", "grouping", "comment")
BACKUP_DIR = ".genrekit"
ID3_FRAMES = {"genre": "TCON", "grouping": "TIT1", "comment": "COMM"}
VORBIS_KEYS = {"genre": "GENRE", "grouping": "GROUPING", "comment": "COMMENT"}
MP4_KEYS = {"genre": ("\xa9gen", "gnre"), "grouping": ("\xa9grp",), "comment": ("\xa9cmt",)}
ID3_UTF8 = 3  # ID3 text encoding: UTF-8 (v2.4 only)
ID3_UTF16 = 1  # ID3 text encoding: UTF-16 with BOM (v2.3 and v2.4)


class TagError(GenrekitError):
    """A file could not be tagged (or untagged) safely; it was left as it was."""


def open_audio(path: str | os.PathLike[str]) -> tuple[Any, str | None]:
    """The mutagen object of a file and its container (``mp3``, ``flac``, ``ogg``, ``mp4``, or None)."""
    import mutagen
    from mutagen.flac import FLAC
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis

    try:
        audio = mutagen.File(os.fspath(path))
    except mutagen.MutagenError as error:
        raise TagError(f"cannot read its metadata: {error}") from error
    if isinstance(audio, MP3):
        return audio, "mp3"
    if isinstance(audio, FLAC):
        return audio, "flac"
    if isinstance(audio, (OggVorbis, OggOpus)):
        return audio, "ogg"
    if isinstance(audio, MP4):
        return audio, "mp4"
    return audio, None


def _ensure_tags(audio: Any) -> Any:
    if audio.tags is None:
        audio.add_tags()
    return audio.tags


def _id3_frames(tags: Any, field: str) -> list[Any]:
    frame_id = ID3_FRAMES[field]
    frames = tags.getall(frame_id) if tags is not None else []
    return [f for f in frames if frame_id != "COMM" or f.desc == ""]


def read_values(audio: Any, container: str, field: str) -> list[str]:
    """The field's current values (empty when unset)."""
    tags = audio.tags
    if tags is None:
        return []
    if container == "mp3":
        return [str(t) for f in _id3_frames(tags, field) for t in f.text]
    if container in ("flac", "ogg"):
        return [str(v) for v in tags.get(VORBIS_KEYS[field], [])]
    values = []
    for key in MP4_KEYS[field]:
        values.extend(str(v) for v in tags.get(key, []))
    return values


def same_values(a: list[str], b: list[str]) -> bool:
    """Whether two value lists say the same (ID3v2.3 stores several values as one, joined by ``/``)."""
    return "/".join(a) == "/".join(b)


def snapshot(audio: Any, container: str, field: str) -> dict[str, Any]:
    """Everything needed to put the field back exactly (JSON-ready)."""
    tags = audio.tags
    if container == "mp3":
        frames = []
        for f in _id3_frames(tags, field):
            frame = {"encoding": int(f.encoding), "text": [str(t) for t in f.text]}
            if ID3_FRAMES[field] == "COMM":
                frame.update(lang=str(f.lang), desc=str(f.desc))
            frames.append(frame)
        return {"had_tags": tags is not None, "version": list(tags.version) if tags is not None else None,
                "frames": frames}
    if container in ("flac", "ogg"):
        return {"had_tags": tags is not None, "comments": [list(pair) for pair in tags] if tags is not None else []}
    atoms = {key: [v if isinstance(v, str) else int(v) for v in tags[key]]
             for key in MP4_KEYS[field] if tags is not None and key in tags}
    return {"had_tags": tags is not None, "atoms": atoms}


def _id3_frame(field: str, encoding: int, text: list[str], lang: str = "eng", desc: str = "") -> Any:
    from mutagen import id3

    frame_id = ID3_FRAMES[field]
    if frame_id == "COMM":
        return id3.COMM(encoding=encoding, lang=lang, desc=desc, text=text)
    return getattr(id3, frame_id)(encoding=encoding, text=text)


def _drop_id3_field(tags: Any, field: str) -> None:
    for frame in _id3_frames(tags, field):
        del tags[frame.HashKey]


def write_values(audio: Any, container: str, field: str, values: list[str]) -> None:
    """Replace the field's values with ``values``."""
    tags = _ensure_tags(audio)
    if container == "mp3":
        _drop_id3_field(tags, field)
        encoding = ID3_UTF8 if tags.version[1] >= 4 else ID3_UTF16
        tags.add(_id3_frame(field, encoding, list(values)))
    elif container in ("flac", "ogg"):
        tags[VORBIS_KEYS[field]] = list(values)
    else:
        main_key, *others = MP4_KEYS[field]
        for key in others:
            tags.pop(key, None)
        tags[main_key] = list(values)


def restore(audio: Any, container: str, field: str, saved: dict[str, Any]) -> None:
    """Put back what :func:`snapshot` saved."""
    tags = _ensure_tags(audio)
    if container == "mp3":
        _drop_id3_field(tags, field)
        for frame in saved["frames"]:
            tags.add(_id3_frame(field, frame["encoding"], frame["text"], frame.get("lang", "eng"), frame.get("desc", "")))
    elif container in ("flac", "ogg"):
        tags.clear()
        tags.extend((str(k), str(v)) for k, v in saved["comments"])
    else:
        for key in MP4_KEYS[field]:
            tags.pop(key, None)
            if key in saved["atoms"]:
                tags[key] = saved["atoms"][key]


def _save(audio: Any, container: str, version: list[int] | None = None) -> None:
    if container == "mp3":
        major = (version or list(audio.tags.version))[1]
        audio.save(v2_version=3 if major == 3 else 4)
    else:
        audio.save()


def rewrite_safely(path: str | os.PathLike[str], container: str, change: Callable[[Any], None]) -> None:
    """Apply ``change(audio)`` to a copy of ``path``, check the audio data is unchanged, swap it in.

    Raises
    ------
    TagError
        The copy's audio data differs from the original's (nothing replaced), or the
        container cannot be parsed.
    """
    path = Path(path)
    try:
        before = payload_digest(path, container)
    except PayloadError as error:
        raise TagError(str(error)) from error
    temporary = path.with_name(f".{path.stem}.genrekit-tagging{path.suffix}")
    shutil.copy2(path, temporary)
    try:
        audio, _ = open_audio(temporary)
        change(audio)
        if payload_digest(temporary, container) != before:
            raise TagError("writing the tag would change the audio data; the file was left as it was")
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


@dataclass(frozen=True)
class TagChange:
    """What tagging one file does: ``action`` is ``"write"``, ``"keep"`` (it has a value),
    ``"same"`` (already these values) or ``"skip"`` (container not supported)."""

    path: str
    container: str | None
    old: list[str]
    new: list[str]
    action: str


def plan_change(path: str, values: list[str], *, field: str, overwrite: bool) -> TagChange:
    """What tagging ``path`` with ``values`` would do (reads its metadata only)."""
    audio, container = open_audio(path)
    if container is None:
        return TagChange(path, None, [], values, "skip")
    old = read_values(audio, container, field)
    if same_values(old, values):
        action = "same"
    elif old and not overwrite:
        action = "keep"
    else:
        action = "write"
    return TagChange(path, container, old, values, action)


def new_backup_path(library: str | os.PathLike[str]) -> Path:
    """A fresh backup file in the library's hidden ``.genrekit`` folder."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return Path(library) / BACKUP_DIR / f"tag-backup-{stamp}.jsonl"


def apply_change(change: TagChange, *, field: str, backup: Path) -> None:
    """Back up the field's old values, then write the new ones (see the module's Safety notes)."""
    if change.container is None or change.action != "write":
        return
    container = change.container
    audio, _ = open_audio(change.path)
    entry = {"path": change.path, "container": container, "field": field, "new": change.new,
             "saved": snapshot(audio, container, field)}
    backup.parent.mkdir(parents=True, exist_ok=True)
    with open(backup, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")
        log.flush()
        os.fsync(log.fileno())
    version = entry["saved"].get("version")

    def change_tags(copy: Any) -> None:
        write_values(copy, container, field, change.new)
        _save(copy, container, version)

    rewrite_safely(change.path, container, change_tags)


def latest_backup(library: str | os.PathLike[str]) -> Path | None:
    """The newest backup of ``library`` not undone yet, or None."""
    backups = sorted((Path(library) / BACKUP_DIR).glob("tag-backup-*.jsonl"))
    return backups[-1] if backups else None


def undo_tags(backup: str | os.PathLike[str]) -> Iterator[tuple[str, str | None]]:
    """Restore the old values saved in ``backup``, newest entry first; yields ``(path, problem or None)``.

    A file whose field no longer holds what genrekit wrote (edited since) is left alone
    and reported. When every file is restored, the backup is renamed ``*.undone``.
    """
    with open(backup, encoding="utf-8") as handle:
        entries = [json.loads(line) for line in handle if line.strip()]
    n_problems = 0
    for entry in reversed(entries):
        path, container, field = entry["path"], entry["container"], entry["field"]
        try:
            audio, _ = open_audio(path)
            if not same_values(read_values(audio, container, field), entry["new"]):
                raise TagError("its tag changed since genrekit wrote it; left alone")
            saved = entry["saved"]

            def put_back(copy: Any, saved: dict[str, Any] = saved) -> None:
                if not saved["had_tags"]:
                    copy.delete()  # the file had no tag block at all: remove the one genrekit added
                    return
                restore(copy, container, field, saved)
                _save(copy, container, saved.get("version"))

            rewrite_safely(path, container, put_back)
        except (GenrekitError, OSError) as error:
            n_problems += 1
            yield path, str(error)
            continue
        yield path, None
    if n_problems == 0:
        os.replace(backup, f"{backup}.undone")
