"""Walking a library: every audio format, nested folders, symlinks without loops, no hidden or system files."""

from __future__ import annotations

import os
from pathlib import Path

from genrekit.catalog.walk import is_system_name, walk_library
from tests.catalog.library import AUDIO_TRACKS, BROKEN_TRACKS


def test_walk_finds_every_track_once_and_skips_hidden_system_and_loops(library: Path) -> None:
    found = [p.relative_to(library).as_posix() for p in walk_library(library)]
    assert sorted(found) == sorted([*AUDIO_TRACKS, *BROKEN_TRACKS, "dangling.wav"])
    assert len(found) == len(set(found))  # the loop and the second link into Artist add nothing


def test_walk_follows_a_link_to_a_folder_outside_the_library(tmp_path: Path, library: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.wav").write_bytes((library / "a.wav").read_bytes())
    os.symlink(outside, library / "linked")
    found = {p.relative_to(library).as_posix() for p in walk_library(library)}
    assert "linked/x.wav" in found


def test_system_names() -> None:
    assert is_system_name(".DS_Store", is_dir=False)
    assert is_system_name("Thumbs.db", is_dir=False)
    assert is_system_name("$RECYCLE.BIN", is_dir=True)
    assert is_system_name("@eaDir", is_dir=True)
    assert not is_system_name("Album", is_dir=True)
    assert not is_system_name("song.mp3", is_dir=False)
