"""Finding a library's audio files: symlinks followed without loops, hidden and system files skipped."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from genrekit.audio.sniff import AUDIO_EXTENSIONS
from genrekit.datasets.files import is_hidden

# Folders that operating systems and NAS boxes create, never music.
SYSTEM_DIRS = frozenset(
    {"$RECYCLE.BIN", "System Volume Information", "@eaDir", "#recycle", "__MACOSX", "lost+found", "RECYCLER"}
)
# Files that operating systems create beside music.
SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r"})


def is_system_name(name: str, *, is_dir: bool) -> bool:
    """True for hidden entries (``.x``) and the folders/files operating systems put in libraries."""
    if is_hidden(name):
        return True
    return name in SYSTEM_DIRS if is_dir else name.lower() in SYSTEM_FILES


def walk_library(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Audio files under ``root`` (by extension), in sorted order, each real folder walked once.

    Symbolic links to folders are followed; a link back into a folder already walked (a
    loop, or a second link to the same folder) is not entered again. Links to files are
    yielded under their own path, including broken ones (the caller records the error).
    Hidden and system files and folders (:func:`is_system_name`) are skipped.

    Parameters
    ----------
    root : path
        The library folder.
    """
    root_path = Path(root)
    seen: set[tuple[int, int]] = set()
    stack = [root_path]
    while stack:
        folder = stack.pop()
        try:
            info = folder.stat()
        except OSError:
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen:
            continue
        seen.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        subfolders: list[Path] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_system_name(entry.name, is_dir=is_dir):
                continue
            if is_dir:
                subfolders.append(Path(entry.path))
            elif Path(entry.name).suffix.lower() in AUDIO_EXTENSIONS:
                yield Path(entry.path)
        stack.extend(reversed(subfolders))
