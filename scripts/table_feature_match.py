"""Compare genrekit's table features with the published GTZAN ``features_30_sec.csv``.

For every clip of ``gtzan-dev`` whose ``<stem>.wav`` row is in the CSV and which is the
same recording (22050 Hz mono with the row's ``length``; some classical clips in
gtzan-dev are 15 s 44.1 kHz stereo re-encodings and are listed as excluded), computes
:func:`genrekit.features.table.table_features` and prints, per column, the fraction of
clips within ``--rtol`` relative tolerance, the median relative error, and the mean
computation time per clip::

    .venv/bin/python scripts/table_feature_match.py --data ../shared/data [--limit 20]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from genrekit.features.table import TABLE_FEATURE_COLUMNS, TABLE_SR, table_features

CSV_NAME = "gtzan-features_30_sec-trainvalid.csv"


def matching_clips(data: Path) -> tuple[list[tuple[Path, dict[str, str]]], list[str]]:
    """Clips of gtzan-dev with a CSV row, and the names of those that are not the same recording."""
    with open(data / CSV_NAME, newline="") as handle:
        rows = {row["filename"]: row for row in csv.DictReader(handle)}
    clips, excluded = [], []
    for path in sorted((data / "gtzan-dev").glob("*/*/*.flac")):
        row = rows.get(path.stem + ".wav")
        if row is None:
            continue
        info = sf.info(str(path))
        if info.samplerate != TABLE_SR or info.channels != 1 or info.frames != int(row["length"]):
            excluded.append(f"{path.name} ({info.samplerate} Hz, {info.channels} ch, {info.frames} samples)")
            continue
        clips.append((path, row))
    return clips, excluded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--limit", type=int, default=None, help="only the first N matching clips")
    parser.add_argument("--rtol", type=float, default=0.01, help="relative tolerance of a match (default 1%%)")
    args = parser.parse_args(argv)

    clips, excluded = matching_clips(args.data)
    if args.limit is not None:
        clips = clips[: args.limit]
    if not clips:
        print(f"no matching clips under {args.data}", file=sys.stderr)
        return 1
    rel_errors = {column: [] for column in TABLE_FEATURE_COLUMNS}
    seconds, cpu_seconds = [], []
    for path, row in clips:
        y, sr = sf.read(str(path), dtype="float32")
        start, cpu_start = time.perf_counter(), time.process_time()
        values = table_features(y, sr)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
        for column in TABLE_FEATURE_COLUMNS:
            expected = float(row[column])
            rel_errors[column].append(abs(values[column] - expected) / max(abs(expected), 1e-30))

    print(f"{len(clips)} clips compared, {len(excluded)} excluded (not the table's recording)")
    for name in excluded:
        print(f"  excluded: {name}")
    print(
        f"table_features per 30 s clip: {np.median(seconds):.2f} s wall (median; max {np.max(seconds):.2f} s), "
        f"{np.median(cpu_seconds):.2f} s CPU (median, all threads)"
    )
    print(f"{'column':28s} {'match@' + format(args.rtol, 'g'):>10s} {'median rel err':>15s} {'max rel err':>12s}")
    rates = []
    for column in TABLE_FEATURE_COLUMNS:
        errors = np.asarray(rel_errors[column])
        rate = float(np.mean(errors <= args.rtol))
        rates.append(rate)
        print(f"{column:28s} {rate:10.3f} {np.median(errors):15.2e} {errors.max():12.2e}")
    print(f"{'all columns (mean rate)':28s} {np.mean(rates):10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
