"""``genrekit features``: output formats, per-file failures, usage errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrekit.cli.main import main
from genrekit.features.table import TABLE_FEATURE_COLUMNS


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two short WAV clips (22050 Hz mono, 3 s; 44100 Hz stereo, 2 s) and a text file named .wav."""
    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    t = np.arange(3 * 22050) / 22050
    mono = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.shape)
    sf.write(root / "tone.wav", mono.astype(np.float32), 22050, subtype="PCM_16")
    stereo = 0.2 * rng.standard_normal((2 * 44100, 2))
    sf.write(root / "noise.wav", stereo.astype(np.float32), 44100, subtype="PCM_16")
    (root / "notes.wav").write_text("this is not audio\n")
    return {"tone": root / "tone.wav", "noise": root / "noise.wav", "text": root / "notes.wav"}


def test_table_csv_has_the_kaggle_header(clips: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["features", "--kind", "table", "--format", "csv", str(clips["tone"]), str(clips["noise"])])
    out = capsys.readouterr().out
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["filename", *TABLE_FEATURE_COLUMNS]
    assert [row[0] for row in rows[1:]] == ["tone.wav", "noise.wav"]
    assert rows[1][1] == str(3 * 22050)  # length in samples at 22050 Hz
    assert rows[2][1] == str(2 * 22050)  # the 44.1 kHz clip is resampled to 22050 Hz
    assert all(np.isfinite(float(value)) for value in rows[1][1:])


def test_a_bad_file_is_reported_and_the_others_go_on(clips: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    missing = clips["tone"].parent / "missing.flac"
    code = main(["features", "--kind", "mfcc", str(clips["text"]), str(clips["tone"]), str(missing)])
    captured = capsys.readouterr()
    assert code == 1
    rows = list(csv.reader(io.StringIO(captured.out)))
    assert [row[0] for row in rows[1:]] == ["tone.wav"]
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2
    assert "notes.wav" in errors[0] and "missing.flac" in errors[1]
    assert all(line.startswith("genrekit features: error: ") for line in errors)


def test_mfcc_json_summary(clips: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["features", "--kind", "mfcc", "--n-mfcc", "13", "--format", "json", str(clips["tone"])])
    assert code == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["filename"] == "tone.wav"
    features = result["features"]
    assert features["n_frames"] == 1 + 3 * 22050 // 512
    assert features["duration_s"] == pytest.approx(3.0)
    assert set(features) == {"duration_s", "n_frames"} | {f"mfcc{i}_{s}" for i in range(1, 14) for s in ("mean", "var")}


def test_logmel_npy_files(clips: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([
        "features", "--kind", "logmel", "--format", "npy", "--out", str(tmp_path / "out"), "--sr", "16000",
        "--n-mels", "64", "--n-fft", "1024", "--hop-length", "160", str(clips["tone"]), str(clips["tone"]),
    ])  # fmt: skip
    assert code == 0
    written = [Path(line) for line in capsys.readouterr().out.split()]
    assert [p.name for p in written] == ["tone.logmel.npy", "tone-1.logmel.npy"]
    array = np.load(written[0], allow_pickle=False)
    assert array.dtype == np.float32 and array.shape == (64, 1 + 3 * 16000 // 160)


def test_musicnn_npy(clips: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["features", "--kind", "musicnn", "--format", "npy", "--out", str(tmp_path), str(clips["noise"])])
    assert code == 0
    array = np.load(capsys.readouterr().out.strip(), allow_pickle=False)
    assert array.shape == (96, 1 + 2 * 16000 // 256)
    assert array.min() >= 0.0


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--format", "npy"], "needs --out"),
        (["--out", "somewhere"], "only used with --format npy"),
        (["--kind", "table", "--sr", "16000"], "22050"),
        (["--kind", "musicnn", "--sr", "22050"], "16000"),
        (["--kind", "mfcc", "--n-mfcc", "200"], "n_mfcc"),
        (["--kind", "logmel", "--sr", "-5"], "sr"),
    ],
)
def test_usage_errors(argv: list[str], match: str, clips: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["features", *argv, str(clips["tone"])])
    err = capsys.readouterr().err
    assert code == 2
    assert match in err


def test_unknown_kind_is_an_argparse_error(clips: dict[str, Path]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["features", "--kind", "chroma", str(clips["tone"])])
    assert exit_info.value.code == 2
