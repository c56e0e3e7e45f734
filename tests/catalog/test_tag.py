"""``genrekit tag``: genres written into ID3, Vorbis comments (FLAC, Ogg Vorbis, Opus) and MP4
atoms; existing values kept unless --overwrite; --dry-run changes nothing; --undo restores the
tags exactly; the audio data's bytes never change, in every container."""

from __future__ import annotations

from pathlib import Path

import mutagen
import pytest
from mutagen.id3 import ID3, TCON, TIT2
from mutagen.mp4 import MP4

from genrekit.catalog.payload import audio_payload
from genrekit.cli.main import main

CONTAINERS = {"e.mp3": "mp3", "b.flac": "flac", "c.ogg": "ogg", "d.opus": "ogg", "f.m4a": "mp4"}


def find(library: Path, name: str) -> Path:
    return next(p for p in library.rglob(name) if "loop" not in str(p))


def tags_of(path: Path) -> list[tuple[str, str]]:
    """Every tag key and value (order-independent where the format is)."""
    audio = mutagen.File(path)
    if audio.tags is None:
        return []
    if isinstance(audio.tags, ID3):
        return sorted((frame.HashKey, repr(frame)) for frame in audio.tags.values())
    if isinstance(audio, MP4):
        return sorted((k, repr(v)) for k, v in audio.tags.items())
    return [(k, v) for k, v in audio.tags]  # Vorbis comments: order kept too


def state(library: Path) -> dict[str, tuple[bytes, list]]:
    return {name: (audio_payload(find(library, name), kind), tags_of(find(library, name))) for name, kind in CONTAINERS.items()}


@pytest.fixture()
def tagged_library(library: Path) -> Path:
    """Some files already carry tags: an ID3v2.3 genre, FLAC comments with a genre, an M4A title."""
    mp3 = find(library, "e.mp3")
    tags = ID3()
    tags.add(TCON(encoding=1, text=["Jazz"]))
    tags.add(TIT2(encoding=1, text=["Song E"]))
    tags.save(mp3, v2_version=3)
    flac = mutagen.File(find(library, "b.flac"))
    if flac.tags is None:
        flac.add_tags()
    flac.tags["ARTIST"] = ["Someone"]
    flac.tags["GENRE"] = ["Rock"]
    flac.tags["TITLE"] = ["Song B"]
    flac.save()
    m4a = mutagen.File(find(library, "f.m4a"))
    if m4a.tags is None:
        m4a.add_tags()
    m4a.tags["\xa9nam"] = ["Song F"]
    m4a.save()
    return library


def tag(capsys, library: Path, db_url: str, bundle: str, *extra: str) -> tuple[int, str]:
    code = main(["tag", str(library), "--db", db_url, "--model", bundle, "--workers", "1", *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def genre(path: Path) -> list[str]:
    audio = mutagen.File(path)
    if isinstance(audio, MP4):
        return list(audio.tags.get("\xa9gen", [])) if audio.tags else []
    if isinstance(audio.tags, ID3):
        return [t for f in audio.tags.getall("TCON") for t in f.text]
    return list(audio.tags.get("GENRE", [])) if audio.tags else []


def test_dry_run_prints_old_and_new_and_changes_nothing(capsys, tagged_library: Path, db_url: str, tiny_bundle: str) -> None:
    before = {p: p.read_bytes() for p in tagged_library.rglob("*") if p.is_file() and ".genrekit" not in p.parts}
    code, out = tag(capsys, tagged_library, db_url, tiny_bundle, "--dry-run")
    assert code == 0, out
    assert "e.mp3: Jazz -> " in out and "(kept" in out
    assert "c.ogg: (none) -> " in out
    assert "would write 3, kept 2" in out
    after = {p: p.read_bytes() for p in before}
    assert after == before


def test_tag_keeps_existing_overwrites_on_request_and_undo_restores_exactly(
    capsys, tagged_library: Path, db_url: str, tiny_bundle: str
) -> None:
    original = state(tagged_library)
    sizes = {name: (len(payload), find(tagged_library, name).stat().st_size) for name, (payload, _) in original.items()}
    assert all(n_payload > 0.5 * n_file for n_payload, n_file in sizes.values()), sizes  # the audio, not a sliver
    code, out = tag(capsys, tagged_library, db_url, tiny_bundle)
    assert code == 0, out
    assert genre(find(tagged_library, "e.mp3")) == ["Jazz"] and genre(find(tagged_library, "b.flac")) == ["Rock"]
    written = {name: genre(find(tagged_library, name)) for name in ("c.ogg", "d.opus", "f.m4a")}
    assert all(len(v) == 1 and v[0] in ("quiet", "tonal", "noisy") for v in written.values()), written
    assert ID3(find(tagged_library, "e.mp3")).version[:2] == (2, 3)  # the ID3 version is kept
    now = state(tagged_library)
    assert {n: now[n][0] for n in CONTAINERS} == {n: original[n][0] for n in CONTAINERS}  # audio bytes identical
    code, out = tag(capsys, tagged_library, db_url, tiny_bundle)  # a rerun: nothing new
    assert "tagged 0" in out

    code, out = tag(capsys, tagged_library, db_url, tiny_bundle, "--undo")
    assert code == 0, out
    assert state(tagged_library) == original

    code, out = tag(capsys, tagged_library, db_url, tiny_bundle, "--overwrite", "--multi", "2")
    assert "tagged 5" in out
    counts = {n: len(genre(find(tagged_library, n))) for n in CONTAINERS}
    assert counts == {**dict.fromkeys(CONTAINERS, 2), "e.mp3": 1}
    assert genre(find(tagged_library, "e.mp3"))[0].count("/") == 1  # ID3v2.3 joins several values with "/"
    assert {n: v[0] for n, v in state(tagged_library).items()} == {n: v[0] for n, v in original.items()}
    code, out = tag(capsys, tagged_library, db_url, tiny_bundle, "--undo")
    assert code == 0, out
    assert state(tagged_library) == original


def test_grouping_and_comment_fields(capsys, tagged_library: Path, db_url: str, tiny_bundle: str) -> None:
    original = state(tagged_library)
    tag(capsys, tagged_library, db_url, tiny_bundle, "--field", "grouping")
    tag(capsys, tagged_library, db_url, tiny_bundle, "--field", "comment")
    mp3 = ID3(find(tagged_library, "e.mp3"))
    assert mp3.getall("TIT1") and [f for f in mp3.getall("COMM") if f.desc == ""]
    assert mutagen.File(find(tagged_library, "b.flac")).tags.get("GROUPING")
    assert "\xa9cmt" in mutagen.File(find(tagged_library, "f.m4a")).tags
    assert {n: v[0] for n, v in state(tagged_library).items()} == {n: v[0] for n, v in original.items()}
    tag(capsys, tagged_library, db_url, tiny_bundle, "--undo")
    tag(capsys, tagged_library, db_url, tiny_bundle, "--undo")
    assert state(tagged_library) == original


def test_files_are_matched_by_content_after_tagging(capsys, tagged_library: Path, db_url: str, tiny_bundle: str) -> None:
    tag(capsys, tagged_library, db_url, tiny_bundle)
    code = main(["scan", str(tagged_library), "--db", db_url, "--model", tiny_bundle, "--workers", "1"])
    out = capsys.readouterr().out
    assert "0 classified" in out  # tagging changed the files' bytes, not their results
