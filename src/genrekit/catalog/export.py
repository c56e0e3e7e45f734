"""Stored scan results out as reports and playlists (``genrekit export``).

Formats
-------
``csv``
    One row per file: the record columns (:data:`~genrekit.batch.records.RECORD_COLUMNS`)
    except ``result``, plus ``genres`` (``genre:score`` for every label, best first, joined
    by ``;``) and ``tags`` (``tag:score;...``): a department's report.
``json``
    One array of records, ``result`` as an object (the shared result schema).
``m3u``
    Extended M3U playlists (UTF-8) of the classified files, paths relative to the
    playlist's folder. With an output folder and no ``--genre``, one ``GENRE.m3u`` per genre.
``parquet``
    The record columns, as the Ray engine writes them (needs pyarrow).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from genrekit.batch.records import RECORD_COLUMNS, make_record
from genrekit.catalog.database import TrackRecord
from genrekit.errors import GenrekitError

FORMATS = ("csv", "json", "m3u", "parquet")
CSV_COLUMNS = tuple(c for c in RECORD_COLUMNS if c != "result") + ("genres", "tags")


def record_of(track: TrackRecord) -> dict[str, Any]:
    """The flat record of a stored track."""
    return make_record(
        path=track.path, library=track.library, size_bytes=track.size_bytes, mtime_ns=track.mtime_ns,
        sha256=track.sha256, model_name=track.model_name, model_version=track.model_version,
        result=track.result if track.status == "ok" else None, error=track.error,
    )


def _scores(items: list[dict[str, Any]], key: str) -> str:
    return ";".join(f"{item[key]}:{float(item['score']):.4f}" for item in items)


def write_csv(tracks: Iterable[TrackRecord], out: TextIO) -> int:
    """Write the CSV report; returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    n_rows = 0
    for track in tracks:
        record = record_of(track)
        result = track.result or {}
        record["genres"] = _scores(result.get("genres") or [], "genre")
        record["tags"] = _scores(result.get("tags") or [], "tag")
        writer.writerow(["" if record[c] is None else record[c] for c in CSV_COLUMNS])
        n_rows += 1
    return n_rows


def write_json(tracks: Iterable[TrackRecord], out: TextIO) -> int:
    """Write one JSON array of records (``result`` as an object); returns the number of records."""
    items = []
    for track in tracks:
        record = record_of(track)
        record["result"] = track.result if track.status == "ok" else None
        items.append(record)
    json.dump(items, out, indent=2)
    out.write("\n")
    return len(items)


def m3u_text(tracks: Iterable[TrackRecord], *, base_dir: str | os.PathLike[str]) -> tuple[str, int]:
    """An extended M3U playlist of the classified tracks, paths relative to ``base_dir``."""
    lines = ["#EXTM3U"]
    n_tracks = 0
    for track in tracks:
        if track.status != "ok":
            continue
        duration = int(round(track.duration_s)) if track.duration_s is not None else -1
        title = Path(track.path).stem
        lines.append(f"#EXTINF:{duration},{title}")
        lines.append(Path(os.path.relpath(track.path, os.fspath(base_dir))).as_posix())
        n_tracks += 1
    return "\n".join(lines) + "\n", n_tracks


def safe_file_name(text: str) -> str:
    """``text`` usable as one file or folder name (separators and control characters replaced)."""
    cleaned = re.sub(r'[\x00-\x1f/\\:*?"<>|]+', "_", text).strip(" .")
    return cleaned or "unknown"


def write_playlists(tracks: Iterable[TrackRecord], out_dir: Path) -> dict[str, int]:
    """One ``GENRE.m3u`` per top genre in ``out_dir``; returns tracks per genre."""
    by_genre: dict[str, list[TrackRecord]] = {}
    for track in tracks:
        if track.status == "ok" and track.top_genre:
            by_genre.setdefault(track.top_genre, []).append(track)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for genre, items in sorted(by_genre.items()):
        text, counts[genre] = m3u_text(items, base_dir=out_dir)
        (out_dir / f"{safe_file_name(genre)}.m3u").write_text(text, encoding="utf-8")
    return counts


def write_parquet(tracks: Iterable[TrackRecord], path: Path) -> int:
    """Write the records as one Parquet file; returns the number of rows."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as error:
        raise GenrekitError("--format parquet needs pyarrow: pip install 'genrekit[ray]'") from error
    records = [record_of(track) for track in tracks]
    schema = pa.schema([
        ("path", pa.string()), ("library", pa.string()), ("size_bytes", pa.int64()), ("mtime_ns", pa.int64()),
        ("sha256", pa.string()), ("duration_s", pa.float64()), ("model_name", pa.string()),
        ("model_version", pa.string()), ("status", pa.string()), ("error", pa.string()), ("top_genre", pa.string()),
        ("top_score", pa.float64()), ("uncertainty", pa.string()), ("result", pa.string()),
    ])  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(records, schema=schema), path)
    return len(records)


def export_text(fmt: str, tracks: Iterable[TrackRecord], *, base_dir: str | os.PathLike[str]) -> tuple[str, int]:
    """The csv, json or m3u export as text, and the number of items in it."""
    buffer = io.StringIO()
    if fmt == "csv":
        n_items = write_csv(tracks, buffer)
    elif fmt == "json":
        n_items = write_json(tracks, buffer)
    elif fmt == "m3u":
        text, n_items = m3u_text(tracks, base_dir=base_dir)
        buffer.write(text)
    else:
        raise GenrekitError(f"format {fmt!r} is not a text format")
    return buffer.getvalue(), n_items
