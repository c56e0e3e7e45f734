"""``genrekit export`` (csv/json/m3u/parquet, filters) and ``genrekit organize`` (symlink/copy/move,
collisions, manifest and undo) on a scanned generated library."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from genrekit.batch.records import RECORD_COLUMNS
from genrekit.catalog import organize as organize_module
from genrekit.cli.main import main
from tests.catalog.library import AUDIO_TRACKS


@pytest.fixture()
def scanned(capsys, library: Path, db_url: str, tiny_bundle: str) -> Path:
    main(["scan", str(library), "--db", db_url, "--model", tiny_bundle, "--workers", "1", "--quiet"])
    capsys.readouterr()
    return library


def export(capsys, db_url: str, *args: str) -> tuple[int, str]:
    code = main(["export", "--db", db_url, *args])
    return code, capsys.readouterr().out


def test_export_csv_and_json_report_every_file(capsys, scanned: Path, db_url: str) -> None:
    code, out = export(capsys, db_url, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(AUDIO_TRACKS) + 3
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == len(AUDIO_TRACKS)
    assert all(r["genres"].startswith(r["top_genre"] + ":") for r in ok)
    assert {r["status"] for r in rows} == {"ok", "error"}
    code, out = export(capsys, db_url, "--format", "json")
    items = json.loads(out)
    good = next(i for i in items if i["path"].endswith("b.flac"))
    assert good["result"]["genres"][0]["genre"] == good["top_genre"] and good["result"]["segments"]
    broken = next(i for i in items if i["path"].endswith("broken.mp3"))
    assert broken["result"] is None and broken["error"]


def test_export_filters_by_genre_and_score(capsys, scanned: Path, db_url: str) -> None:
    _, out = export(capsys, db_url, "--format", "json")
    items = [i for i in json.loads(out) if i["status"] == "ok"]
    genre = items[0]["top_genre"]
    _, out = export(capsys, db_url, "--format", "json", "--genre", genre)
    assert {i["top_genre"] for i in json.loads(out)} == {genre}
    threshold = sorted(i["top_score"] for i in items)[len(items) // 2]
    _, out = export(capsys, db_url, "--format", "json", "--min-score", str(threshold))
    kept = json.loads(out)
    assert kept and all(i["top_score"] >= threshold for i in kept)
    assert len(kept) == sum(i["top_score"] >= threshold for i in items)


def test_export_m3u_playlists_per_genre_use_relative_paths(capsys, scanned: Path, db_url: str, tmp_path: Path) -> None:
    out_dir = tmp_path / "playlists"
    out_dir.mkdir()
    assert main(["export", "--db", db_url, "--format", "m3u", "--out", str(out_dir)]) == 0
    playlists = sorted(out_dir.glob("*.m3u"))
    assert playlists
    entries = []
    for playlist in playlists:
        lines = playlist.read_text(encoding="utf-8").splitlines()
        assert lines[0] == "#EXTM3U"
        for line in lines[1:]:
            if not line.startswith("#"):
                assert not os.path.isabs(line)
                assert (out_dir / line).resolve().is_file()
                entries.append(line)
    assert len(entries) == len(AUDIO_TRACKS)


def test_export_parquet_has_the_record_columns(capsys, scanned: Path, db_url: str, tmp_path: Path) -> None:
    parquet = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed")
    target = tmp_path / "out" / "lib.parquet"
    assert main(["export", "--db", db_url, "--format", "parquet", "--out", str(target)]) == 0
    table = parquet.read_table(target)
    assert tuple(table.column_names) == RECORD_COLUMNS
    assert table.num_rows == len(AUDIO_TRACKS) + 3


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


@pytest.mark.parametrize("mode", ["symlink", "copy", "move"])
def test_organize_makes_genre_folders_and_undo_restores(
    capsys, scanned: Path, db_url: str, tmp_path: Path, tiny_bundle: str, mode: str
) -> None:
    (scanned / "Various" / "a.wav").write_bytes((scanned / "a.wav").read_bytes())  # same name, another folder
    main(["scan", str(scanned), "--db", db_url, "--model", tiny_bundle, "--workers", "1", "--quiet"])
    before = snapshot(scanned)
    out = tmp_path / "by-genre"
    code = main(["organize", str(scanned), str(out), "--db", db_url, "--mode", mode])
    printed = capsys.readouterr().out
    assert code == 0, printed
    placed = [p for p in out.rglob("*") if (p.is_file() or p.is_symlink()) and ".genrekit" not in p.parts]
    assert len(placed) == len(AUDIO_TRACKS) + 1
    assert all(p.parent.parent == out for p in placed)  # OUT/<genre>/<file>
    assert {"a.wav", "a (2).wav"} <= {p.name for p in placed}  # the collision resolved
    if mode == "symlink":
        assert all(p.is_symlink() for p in placed)
    if mode == "move":
        assert not (scanned / "Artist" / "Album" / "b.flac").exists()
    manifest = printed.split("manifest: ")[1].split()[0]
    code = main(["organize", "--undo", manifest])
    assert code == 0, capsys.readouterr()
    assert snapshot(scanned) == before
    assert not [p for p in out.rglob("*") if (p.is_file() or p.is_symlink()) and ".genrekit" not in p.parts]
    assert Path(manifest + ".undone").is_file()


def test_organize_resolves_name_collisions(tmp_path: Path) -> None:
    from genrekit.catalog.database import TrackRecord

    def track(path: str) -> TrackRecord:
        return TrackRecord(path=path, library="/lib", size_bytes=1, mtime_ns=1, sha256="x", duration_s=1.0,
                           model_name="m", model_version="1", status="ok", error=None, top_genre="rock",
                           top_score=0.9, classification_id="c", result={})

    out = tmp_path / "out"
    (out / "rock").mkdir(parents=True)
    (out / "rock" / "song.mp3").write_bytes(b"already there")
    placements = organize_module.plan([track("/lib/a/song.mp3"), track("/lib/b/song.mp3")], out)
    assert [Path(p.target).name for p in placements] == ["song (2).mp3", "song (3).mp3"]


def test_move_is_not_destructive_when_the_copy_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "src" / "song.flac"
    source.parent.mkdir()
    source.write_bytes(b"precious audio")
    target = tmp_path / "dst" / "rock" / "song.flac"
    real_stat = os.stat

    def other_device(path, *a, **k):  # force the cross-device path
        info = real_stat(path, *a, **k)
        if str(path) == str(source):
            return os.stat_result((info.st_mode, info.st_ino, info.st_dev + 1, *tuple(info)[3:]))
        return info

    def failing_copy(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(organize_module.os, "stat", other_device)
    monkeypatch.setattr(organize_module.shutil, "copy2", failing_copy)
    with pytest.raises(OSError):
        organize_module.safe_move(str(source), str(target))
    assert source.read_bytes() == b"precious audio"
    assert not target.exists() and not Path(f"{target}.genrekit-partial").exists()
