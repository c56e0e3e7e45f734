"""``genrekit features``: extract features from audio files (see :data:`DESCRIPTION`)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from genrekit.cli.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from genrekit.cli.extras import require_train_extra
from genrekit.errors import GenrekitError

if TYPE_CHECKING:
    import numpy as np
    import torch

KINDS = ("table", "mfcc", "logmel", "musicnn")
FORMATS = ("csv", "json", "npy")
DEFAULT_SR = 22050  # Hz, for mfcc and logmel

DESCRIPTION = """\
Extract features from audio files (any supported format).

  table    the 58 features of the public GTZAN features_30_sec.csv (22050 Hz); with
           --format csv: the table's header, filename first, then one row per file
  mfcc     MFCCs of the dB log-mel spectrogram (no top_db floor)
  logmel   log-mel spectrogram in dB (ref 1.0)
  musicnn  musicnn's input log10(1 + 10000 mel), 16 kHz, 96 bands

csv/json print a per-file summary (for frame-wise kinds: duration, frames, mean and
variance of each coefficient); npy writes DIR/<stem>.<kind>.npy with the whole array
(n_coefficients, frames). A failing file is reported on stderr, the others go on, and
the exit code is 1."""

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``features`` subcommand."""
    parser = subparsers.add_parser(
        "features",
        help="extract features (GTZAN table, MFCC, log-mel, musicnn input) from audio files",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    parser.add_argument("--kind", choices=KINDS, default="table", help="which features (default: table)")
    parser.add_argument("--format", choices=FORMATS, default="csv", dest="fmt", help="output format (default: csv)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="output directory of --format npy")
    parser.add_argument(
        "--sr",
        type=int,
        default=None,
        help=f"sample rate (Hz) of mfcc/logmel (default {DEFAULT_SR}); table is fixed at 22050, musicnn at 16000",
    )
    parser.add_argument("--n-mfcc", type=int, default=20, help="MFCC coefficients (default 20)")
    parser.add_argument("--n-mels", type=int, default=128, help="mel bands of mfcc/logmel (default 128)")
    parser.add_argument("--n-fft", type=int, default=2048, help="FFT size (samples) of mfcc/logmel (default 2048)")
    parser.add_argument("--hop-length", type=int, default=512, help="hop (samples) of mfcc/logmel (default 512)")
    parser.set_defaults(func=run)


class _Extractor:
    """Decodes a file at the kind's rate and computes its features (all work is in the library)."""

    def __init__(self, args: argparse.Namespace) -> None:
        from genrekit.features.config import LogMelConfig, MfccConfig
        from genrekit.features.functional import MUSICNN_N_MELS, MUSICNN_SR
        from genrekit.features.modules import MFCC, LogMel, MusicnnInput
        from genrekit.features.table import TABLE_FEATURE_COLUMNS, TABLE_SR

        self.kind: str = args.kind
        self.module: torch.nn.Module | None = None
        if args.kind == "table":
            self.sr = TABLE_SR
            self.columns = list(TABLE_FEATURE_COLUMNS)
            return
        if args.kind == "musicnn":
            self.sr = MUSICNN_SR
            self.module, prefix, n_rows = MusicnnInput(), "mel", MUSICNN_N_MELS
        else:
            self.sr = DEFAULT_SR if args.sr is None else args.sr
            mel = LogMelConfig(sr=self.sr, n_fft=args.n_fft, hop_length=args.hop_length, n_mels=args.n_mels)
            if args.kind == "mfcc":
                self.module, prefix, n_rows = MFCC(MfccConfig(n_mfcc=args.n_mfcc, mel=mel)), "mfcc", args.n_mfcc
            else:
                self.module, prefix, n_rows = LogMel(mel), "mel", args.n_mels
        self.prefix = prefix
        stats = [f"{prefix}{i}_{stat}" for i in range(1, n_rows + 1) for stat in ("mean", "var")]
        self.columns = ["duration_s", "n_frames", *stats]

    def load(self, path: str) -> np.ndarray:
        from genrekit.audio import load_audio

        y, _ = load_audio(path, sr=self.sr, mono=True)
        return y

    def array(self, y: np.ndarray) -> np.ndarray:
        """The file's features as one array: ``(n, frames)`` float32, or the table's 58 values."""
        import numpy as np
        import torch

        if self.module is None:
            return np.asarray(list(self.row(y).values()), dtype=np.float64)
        with torch.inference_mode():
            return self.module(torch.from_numpy(y)).numpy().astype(np.float32, copy=False)

    def row(self, y: np.ndarray) -> dict[str, float]:
        """One summary row keyed by :attr:`columns`."""
        if self.module is None:
            from genrekit.features.table import table_features

            return table_features(y, self.sr)
        array = self.array(y)
        row = {"duration_s": y.shape[0] / self.sr, "n_frames": float(array.shape[1])}
        for i, (mean, var) in enumerate(zip(array.mean(axis=1), array.var(axis=1)), start=1):
            row[f"{self.prefix}{i}_mean"] = float(mean)
            row[f"{self.prefix}{i}_var"] = float(var)
        return row


def _each(files: list[str], work: Callable[[str], T], failures: list[str]) -> Iterator[tuple[str, T]]:
    """``(file, work(file))`` for each file that works; the others are reported on stderr."""
    for name in files:
        try:
            result = work(name)
        except (GenrekitError, OSError) as error:
            message = str(error) if name in str(error) else f"{name}: {error}"
            print(f"genrekit features: error: {message}", file=sys.stderr, flush=True)
            failures.append(name)
            continue
        yield name, result


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def _usage_error(message: str) -> int:
    print(f"genrekit features: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    """Extract the features of every file; return the exit code."""
    require_train_extra("features")
    if args.fmt == "npy" and args.out is None:
        return _usage_error("--format npy needs --out DIR")
    if args.out is not None and args.fmt != "npy":
        return _usage_error("--out is only used with --format npy")
    if args.kind == "table" and args.sr not in (None, 22050):
        return _usage_error(f"--kind table is defined at 22050 Hz, got --sr {args.sr}")
    if args.kind == "musicnn" and args.sr not in (None, 16000):
        return _usage_error(f"--kind musicnn is defined at 16000 Hz, got --sr {args.sr}")
    try:
        extractor = _Extractor(args)
    except GenrekitError as error:
        return _usage_error(str(error))

    failures: list[str] = []
    if args.fmt == "npy":
        import numpy as np

        args.out.mkdir(parents=True, exist_ok=True)
        written: set[Path] = set()

        def save(name: str) -> Path:
            array = extractor.array(extractor.load(name))
            path = args.out / f"{Path(name).stem}.{extractor.kind}.npy"
            counter = 1
            while path in written:
                path = args.out / f"{Path(name).stem}-{counter}.{extractor.kind}.npy"
                counter += 1
            np.save(path, array, allow_pickle=False)
            written.add(path)
            return path

        for _, path in _each(args.files, save, failures):
            print(path, flush=True)
    elif args.fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["filename", *extractor.columns])
        sys.stdout.flush()
        for name, row in _each(args.files, lambda name: extractor.row(extractor.load(name)), failures):
            writer.writerow([Path(name).name, *(_format_number(row[c]) for c in extractor.columns)])
            sys.stdout.flush()
    else:
        results = [
            {"filename": Path(name).name, "path": name, "features": row}
            for name, row in _each(args.files, lambda name: extractor.row(extractor.load(name)), failures)
        ]
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return EXIT_FAILURE if failures else EXIT_OK
