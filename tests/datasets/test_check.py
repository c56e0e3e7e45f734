from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from genrekit.datasets import PROBLEM_KINDS, TrackRecord, check_dataset, inspect_file, pcm_fingerprint
from genrekit.datasets.check import wav_missing_bytes
from genrekit.errors import InvalidParameterError

from .helpers import SR, corrupt_wav_bytes, touch, write_audio


@pytest.fixture
def messy(tmp_path):
    """A folder with one file per problem kind, plus two clean files."""
    root = tmp_path / "lib"
    files = {
        "good": write_audio(root / "rock" / "good.wav", duration_s=4.0, freq_hz=330.0),
        "good2": write_audio(root / "jazz" / "good2.flac", duration_s=4.0, freq_hz=550.0),
        "corrupt": touch(root / "rock" / "corrupt.wav", corrupt_wav_bytes()),
        "short": write_audio(root / "rock" / "short.wav", duration_s=1.0, freq_hz=440.0),
        "text": touch(root / "jazz" / "notes.wav", b"these are liner notes, not audio\n"),
        "dup_wav": write_audio(root / "rock" / "dup.wav", duration_s=4.0, freq_hz=660.0),
        "dup_flac": write_audio(root / "jazz" / "dup.flac", duration_s=4.0, freq_hz=660.0),
    }
    touch(root / "README.txt", b"not checked: no audio extension")
    return root, files


def test_finds_every_problem(messy):
    root, files = messy
    report = check_dataset(root, n_jobs=1, progress=False)
    assert report.n_files == 7
    assert not report.ok
    assert report.by_kind("corrupt") == [files["corrupt"]]
    assert report.by_kind("short") == [files["short"]]
    assert report.by_kind("not_audio") == [files["text"]]
    assert report.duplicate_groups == ((files["dup_flac"], files["dup_wav"]),)  # sorted: jazz/ before rock/
    assert report.by_kind("duplicate") == [files["dup_wav"]]
    assert report.counts() == {
        **dict.fromkeys(PROBLEM_KINDS, 0),
        "corrupt": 1,
        "short": 1,
        "not_audio": 1,
        "duplicate": 1,
    }
    assert report.n_problem_files == 4
    assert report.total_duration_s == pytest.approx(4 * 4.0 + 1.0)
    assert report.root == root
    as_dict = report.to_dict()
    assert as_dict["ok"] is False and len(as_dict["problems"]) == 4
    assert as_dict["duplicate_groups"] == [[str(files["dup_flac"]), str(files["dup_wav"])]]


def test_parallel_run_gives_the_same_report(messy):
    root, _ = messy
    assert check_dataset(root, n_jobs=2, progress=False) == check_dataset(root, n_jobs=1, progress=False)


def test_clean_folder_and_threshold(messy):
    root, files = messy
    report = check_dataset(
        [files["good"], files["good2"], files["short"]], n_jobs=1, progress=False, min_duration_s=0.5
    )
    assert report.ok and report.problems == () and report.root is None


def test_records_explain_duplicates_across_labels_and_splits(messy):
    _, files = messy
    records = [
        TrackRecord(files["dup_wav"], "rock", split="train"),
        TrackRecord(files["dup_flac"], "jazz", split="test"),
        TrackRecord(files["good"].parent / "gone.wav", "rock"),
    ]
    report = check_dataset(records, n_jobs=1, progress=False)
    (duplicate,) = [p for p in report.problems if p.kind == "duplicate"]
    assert "different labels: jazz, rock" in duplicate.message
    assert "across splits: test, train" in duplicate.message
    assert report.by_kind("missing") == [files["good"].parent / "gone.wav"]


def test_manifest_source(messy, tmp_path):
    root, files = messy
    (root / "list.csv").write_text("path,label\nrock/good.wav,rock\nrock/absent.wav,rock\n")
    report = check_dataset(root / "list.csv", n_jobs=1, progress=False)
    assert report.n_files == 2
    assert report.by_kind("missing") == [root / "rock" / "absent.wav"]


def test_silent_truncated_and_empty_files(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(4 * SR, dtype=np.int16), SR, subtype="PCM_16")
    whole = write_audio(tmp_path / "whole.wav", duration_s=4.0).read_bytes()
    truncated = touch(tmp_path / "truncated.wav", whole[: len(whole) * 3 // 4])
    empty = touch(tmp_path / "empty.wav")
    report = check_dataset(tmp_path, n_jobs=1, progress=False, min_duration_s=1.0)
    kinds = {(p.path.name, p.kind) for p in report.problems}
    assert kinds == {("silent.wav", "empty"), ("truncated.wav", "corrupt"), ("empty.wav", "empty")}
    assert wav_missing_bytes(truncated) == len(whole) - len(truncated.read_bytes())
    assert wav_missing_bytes(tmp_path / "whole.wav") == 0
    assert inspect_file(str(empty), 1.0).size == 0


def test_pcm_fingerprint_is_container_independent(tmp_path):
    wav = write_audio(tmp_path / "a.wav", duration_s=0.5)
    flac = write_audio(tmp_path / "a.flac", duration_s=0.5)
    au = write_audio(tmp_path / "a.au", duration_s=0.5)
    hashes = {inspect_file(str(p), 0.1).pcm_sha256 for p in (wav, flac, au)}
    assert len(hashes) == 1 and None not in hashes
    y = np.array([0.0, 0.5, -0.5], dtype=np.float32)
    assert pcm_fingerprint(y, 8000) != pcm_fingerprint(y, 16000)
    assert pcm_fingerprint(y, 8000) != pcm_fingerprint(y[::-1], 8000)


def test_sniff_checks_audio_without_extension(tmp_path):
    write_audio(tmp_path / "clip", duration_s=4.0, fmt="WAV")
    touch(tmp_path / "notes.txt", b"text")
    assert check_dataset(tmp_path, n_jobs=1, progress=False).n_files == 0
    report = check_dataset(tmp_path, n_jobs=1, progress=False, sniff=True)
    assert report.n_files == 1 and report.ok


@pytest.mark.parametrize("kwargs", [{"min_duration_s": -1.0}, {"min_duration_s": float("nan")}, {"n_jobs": 0}])
def test_invalid_arguments(tmp_path, kwargs):
    with pytest.raises(InvalidParameterError):
        check_dataset(tmp_path, progress=False, **kwargs)


def test_source_must_be_folder_or_csv(tmp_path):
    with pytest.raises(InvalidParameterError, match="neither"):
        check_dataset(tmp_path / "nothing", progress=False)
