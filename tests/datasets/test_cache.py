from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from genrekit.datasets import (
    FeatureCache,
    TrackRecord,
    canonical_params,
    compute_cached,
    default_cache_dir,
    feature_key,
    file_sha256,
)
from genrekit.datasets import cache as cache_module
from genrekit.errors import DatasetError, InvalidParameterError

from . import cache_fns
from .helpers import corrupt_wav_bytes, touch, write_audio


@pytest.fixture
def audio_files(tmp_path):
    """Five distinct 0.3 s tones."""
    return [write_audio(tmp_path / "audio" / f"t{i}.wav", duration_s=0.3, freq_hz=200.0 + 100 * i) for i in range(5)]


@pytest.fixture
def cache(tmp_path):
    return FeatureCache(tmp_path / "cache")


def n_calls(marker_dir: Path) -> int:
    return sum(1 for _ in marker_dir.iterdir())


def test_canonical_params():
    assert canonical_params({"b": (1, 2), "a": 0.5}) == '{"a":0.5,"b":[1,2]}'
    assert canonical_params({"a": 0.5, "b": [1, 2]}) == canonical_params({"b": (1, 2), "a": 0.5})
    assert canonical_params({"n": np.int64(3), "p": Path("x")}) == '{"n":3,"p":"x"}'
    for bad in ({"x": float("nan")}, {"x": object()}, {"x": {1: 2}}, {"x": np.zeros(2)}):
        with pytest.raises(InvalidParameterError):
            canonical_params(bad)


def test_key_changes_with_content_params_and_version_not_with_rename(tmp_path, cache):
    a = write_audio(tmp_path / "a.wav", freq_hz=300.0)
    b = write_audio(tmp_path / "b.wav", freq_hz=400.0)
    digest = cache.content_hash(a)
    assert digest == file_sha256(a)
    base = feature_key(digest, {"n": 1}, feature="f")
    assert base != feature_key(cache.content_hash(b), {"n": 1}, feature="f")
    assert base != feature_key(digest, {"n": 2}, feature="f")
    assert base != feature_key(digest, {"n": 1}, feature="g")
    assert base != feature_key(digest, {"n": 1}, feature="f", version="2")
    renamed = a.rename(tmp_path / "renamed.wav")
    assert feature_key(FeatureCache(cache.root).content_hash(renamed), {"n": 1}, feature="f") == base


def test_compute_store_and_reuse(audio_files, cache, tmp_path):
    marker = tmp_path / "calls"
    marker.mkdir()
    params = {"scale": 2.0, "marker_dir": str(marker)}
    records = [TrackRecord(p, "tone") for p in audio_files]
    first = compute_cached(records, cache_fns.rms_feature, params, cache=cache, n_jobs=1, progress=False)
    assert (first.n_computed, first.n_cached, first.errors) == (5, 0, ())
    assert n_calls(marker) == 5
    expected = cache_fns.rms_feature(audio_files[0], scale=2.0)
    np.testing.assert_array_equal(first.load(0), expected)
    assert first.load(0).dtype == np.float32 and first.load(0).shape == (3,)
    assert len(cache) == 5
    assert not list(cache.entries_dir.glob("*/*.tmp"))

    again = compute_cached(audio_files, cache_fns.rms_feature, params, cache=cache, n_jobs=1, progress=False)
    assert (again.n_computed, again.n_cached) == (0, 5)
    assert n_calls(marker) == 5
    assert again.entries == first.entries

    other = compute_cached(
        audio_files, cache_fns.rms_feature, {**params, "scale": 3.0}, cache=cache, n_jobs=1, progress=False
    )
    assert other.n_computed == 5 and len(cache) == 10
    np.testing.assert_allclose(other.load(0), expected * 1.5, rtol=1e-6)


def test_renamed_file_hits_cache_and_edited_file_misses(audio_files, cache, tmp_path):
    compute_cached(audio_files[:1], cache_fns.rms_feature, cache=cache, n_jobs=1, progress=False)
    moved = audio_files[0].rename(tmp_path / "moved.wav")
    result = compute_cached([moved], cache_fns.rms_feature, cache=cache, n_jobs=1, progress=False)
    assert (result.n_cached, result.n_computed) == (1, 0)
    write_audio(moved, duration_s=0.5)
    result = compute_cached([moved], cache_fns.rms_feature, cache=cache, n_jobs=1, progress=False)
    assert (result.n_cached, result.n_computed) == (0, 1)
    assert result.load(0).shape == (5,)


def test_identical_content_is_computed_once(tmp_path, cache):
    marker = tmp_path / "calls"
    marker.mkdir()
    a = write_audio(tmp_path / "a.wav")
    b = tmp_path / "copy.wav"
    b.write_bytes(a.read_bytes())
    result = compute_cached(
        [a, b], cache_fns.rms_feature, {"marker_dir": str(marker)}, cache=cache, n_jobs=1, progress=False
    )
    assert n_calls(marker) == 1
    assert result.entries[0] == result.entries[1] is not None


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_interrupted_run_resumes(audio_files, cache, tmp_path, n_jobs):
    marker = tmp_path / "calls"
    marker.mkdir()
    stop_file = touch(tmp_path / "stop")
    params = {"marker_dir": str(marker), "stop_file": str(stop_file)}
    with pytest.raises(KeyboardInterrupt):
        compute_cached(audio_files, cache_fns.rms_feature, params, cache=cache, n_jobs=n_jobs, progress=False)
    n_done = len(cache)
    assert cache_fns.STOP_AFTER <= n_done < len(audio_files)
    if n_jobs == 1:
        assert n_done == cache_fns.STOP_AFTER
    assert not list(cache.entries_dir.glob("*/.*"))  # no half-written entry
    stop_file.unlink()
    calls_before = n_calls(marker)
    result = compute_cached(audio_files, cache_fns.rms_feature, params, cache=cache, n_jobs=n_jobs, progress=False)
    assert (result.n_cached, result.n_computed) == (n_done, len(audio_files) - n_done)
    assert n_calls(marker) - calls_before == len(audio_files) - n_done
    assert result.ok == [0, 1, 2, 3, 4]


def test_bad_files_are_recorded_not_raised(audio_files, cache, tmp_path):
    corrupt = touch(tmp_path / "audio" / "corrupt.wav", corrupt_wav_bytes())
    missing = tmp_path / "audio" / "missing.wav"
    paths = [audio_files[0], corrupt, missing, audio_files[1]]
    result = compute_cached(paths, cache_fns.rms_feature, cache=cache, n_jobs=1, progress=False)
    assert result.ok == [0, 3]
    assert [(e.path, e.error) for e in result.errors] == [(corrupt, "LibsndfileError"), (missing, "FileNotFoundError")]
    assert result.n_computed == 2
    with pytest.raises(DatasetError, match="failed"):
        result.load(1)
    with pytest.raises(DatasetError, match="corrupt.wav"):
        compute_cached([corrupt], cache_fns.rms_feature, cache=cache, n_jobs=1, progress=False, on_error="raise")
    (failure,) = compute_cached([audio_files[2]], cache_fns.not_an_array, cache=cache, n_jobs=1, progress=False).errors
    assert failure.error == "TypeError"


def test_killed_worker_fails_only_its_file(audio_files, cache, tmp_path):
    crash = write_audio(tmp_path / "audio" / "crash.wav", freq_hz=999.0)
    marker = tmp_path / "calls"
    marker.mkdir()
    paths = [*audio_files, crash]
    result = compute_cached(
        paths, cache_fns.crash_on_marked_file, {"marker_dir": str(marker)}, cache=cache, n_jobs=2, progress=False
    )
    assert [(e.path, e.error) for e in result.errors] == [(crash, "WorkerCrash")]
    assert result.ok == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(result.load(3), cache_fns.rms_feature(audio_files[3]))
    rerun = compute_cached(
        paths, cache_fns.crash_on_marked_file, {"marker_dir": str(marker)}, cache=cache, n_jobs=2, progress=False
    )
    assert (rerun.n_cached, rerun.n_computed, len(rerun.errors)) == (5, 0, 1)


def test_content_hashes_are_remembered_on_disk(audio_files, cache, monkeypatch):
    cache.content_hashes(audio_files)
    calls = []

    def counting_sha256(path):
        calls.append(path)
        return "0" * 64

    monkeypatch.setattr(cache_module, "file_sha256", counting_sha256)
    fresh = FeatureCache(cache.root)
    assert fresh.content_hashes(audio_files) == [file_sha256(p) for p in audio_files]
    assert calls == []
    write_audio(audio_files[0], duration_s=0.6)
    assert fresh.content_hashes(audio_files[:1]) == ["0" * 64]
    assert len(calls) == 1


def test_unusable_hash_memo_only_costs_time(audio_files, cache):
    cache.hash_db_path.mkdir(parents=True)  # a folder where the SQLite file should be
    assert cache.content_hashes(audio_files[:2]) == [file_sha256(p) for p in audio_files[:2]]
    result = compute_cached(audio_files[:2], cache_fns.rms_feature, cache=cache, n_jobs=1, progress=False)
    assert result.n_computed == 2 and result.errors == ()


def test_put_get_and_atomic_write(cache):
    key = "ab" * 32
    assert cache.get(key) is None and key not in cache
    path = cache.put(key, np.arange(6, dtype=np.int16).reshape(2, 3))
    assert key in cache and path == cache.root / "entries" / "ab" / f"{key}.npy"
    np.testing.assert_array_equal(cache.get(key), np.arange(6).reshape(2, 3))
    assert cache.get(key, mmap=True)[1, 2] == 5
    with pytest.raises(InvalidParameterError):
        cache.put(key, np.array([object()], dtype=object))
    with pytest.raises(InvalidParameterError):
        cache.path_for("../escape")
    (path.parent / ".stale.tmp").write_bytes(b"x")
    assert cache.remove_temporary_files() == 1


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("GENREKIT_CACHE_DIR", str(tmp_path / "gk"))
    assert default_cache_dir() == tmp_path / "gk" / "features"
    assert FeatureCache().root == tmp_path / "gk" / "features"
    monkeypatch.delenv("GENREKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "genrekit" / "features"


def test_invalid_arguments(audio_files, cache):
    with pytest.raises(InvalidParameterError):
        compute_cached(audio_files, cache_fns.rms_feature, cache=cache, n_jobs=0)
    with pytest.raises(InvalidParameterError):
        compute_cached(audio_files, cache_fns.rms_feature, cache=cache, on_error="ignore")
    with pytest.raises(InvalidParameterError):
        compute_cached(audio_files, cache_fns.rms_feature, {"x": sys}, cache=cache)
