"""Finding audio files in a folder tree."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from genrekit.audio.sniff import AUDIO_EXTENSIONS, SNIFF_BYTES

__all__ = ["AUDIO_EXTENSIONS", "SNIFF_BYTES", "has_audio_extension", "is_hidden", "sniff_file"]


def is_hidden(name: str) -> bool:
    """True for dot files and folders (``.DS_Store``, macOS ``._x.wav`` resource forks)."""
    return name.startswith(".")


def has_audio_extension(path: Path) -> bool:
    """True if the file name ends with one of :data:`AUDIO_EXTENSIONS` (any case)."""
    return path.suffix.lower() in AUDIO_EXTENSIONS


def sniff_file(path: Path) -> str | None:
    """Audio format recognised from the first bytes of a file, or ``None``.

    Uses :func:`genrekit.audio.sniff_format`; unreadable files give ``None``.
    """
    from genrekit.audio import sniff_format

    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return None
    return sniff_format(head)


def iter_files(root: Path) -> Iterator[Path]:
    """Every regular, non-hidden file under ``root``, recursively, in sorted order.

    Hidden folders are not entered; symbolic links to files are followed, links to
    folders are not (no cycles).
    """
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
        for name in sorted(filenames):
            if is_hidden(name):
                continue
            path = Path(dirpath) / name
            if path.is_file():
                yield path


def iter_audio_files(root: Path, *, sniff: bool = False) -> Iterator[Path]:
    """Audio files under ``root``, recursively, in sorted order.

    Parameters
    ----------
    root : Path
        Folder to search.
    sniff : bool
        ``False``: a file is audio when its extension is in :data:`AUDIO_EXTENSIONS`.
        ``True``: a file is audio when its first bytes are recognised as an audio
        format, whatever its name (slower: opens every file).
    """
    for path in iter_files(root):
        if sniff:
            if sniff_file(path) is not None:
                yield path
        elif has_audio_extension(path):
            yield path
