"""The pipelined engine: job order, a failure per file, the thread budget, and results equal to
``Classifier.predict`` of each file (tiny model in-process test; the default model on shared clips)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genrekit.batch.engine import (
    BatchEngine,
    EngineConfig,
    Job,
    Prepared,
    infer_prepared,
    pipeline_budget,
    prepare_job,
    registered_model_modules,
)
from genrekit.errors import InvalidParameterError
from genrekit.predict import Classifier

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "gtzan-dev" / "valid"
NAMES = ["a.wav", "Various/broken.mp3", "Artist/Album/b.flac", "Various/missing.wav", "Various/e.mp3",
         "Artist/Album/c.ogg"]


def _jobs(library: Path) -> list[Job]:
    return [Job(source=str(library / n), name=n) for n in NAMES]


def _assert_same_prediction(got: dict, expected: dict) -> None:
    assert [g["genre"] for g in got["genres"]] == [g["genre"] for g in expected["genres"]]
    np.testing.assert_allclose([g["score"] for g in got["genres"]], [g["score"] for g in expected["genres"]], atol=1e-6)
    assert [(s["start_s"], s["end_s"], s["genre"]) for s in got["segments"]] == [
        (s["start_s"], s["end_s"], s["genre"]) for s in expected["segments"]
    ]
    rest = {k: v for k, v in got.items() if k not in ("genres", "segments")}
    assert rest == {k: v for k, v in expected.items() if k not in ("genres", "segments")}


@pytest.mark.parametrize("cores", [1, 2, 3, 4, 8, 16, 64])
def test_default_budget_keeps_decoders_plus_threads_within_the_cores(cores: int) -> None:
    workers, threads = pipeline_budget(cores)
    assert workers >= 1 and threads >= 1
    assert workers + threads <= max(cores, 2)  # one core still runs one decoder and one inference thread
    if cores >= 4:
        assert threads >= workers  # inference is the heavier stage


def test_budget_keeps_what_is_given() -> None:
    assert pipeline_budget(8, workers=3) == (3, 5)
    assert pipeline_budget(8, threads=6) == (2, 6)
    assert pipeline_budget(2, workers=4, threads=4) == (4, 4)


def test_prepared_songs_batched_across_files_equal_predict(library: Path, tiny_bundle: str) -> None:
    classifier = Classifier.load(tiny_bundle)
    options = {"top_k": 2}
    prepared = [prepare_job(classifier, job, options) for job in _jobs(library)]
    assert [isinstance(p, Prepared) for p in prepared] == [True, False, True, False, True, True]
    songs = [p for p in prepared if isinstance(p, Prepared)]
    outcomes = infer_prepared(classifier, songs, batch_windows=3)  # batches straddle songs
    for item, outcome in zip(songs, outcomes, strict=True):
        assert outcome.ok and outcome.job == item.job and outcome.sha256 == item.sha256
        expected = classifier.predict(str(item.job.source), name=item.job.name, **options).to_dict()
        _assert_same_prediction(outcome.result, expected)


def test_pipeline_keeps_job_order_and_fails_only_bad_files(library: Path, tiny_bundle: str) -> None:
    config = EngineConfig(model=tiny_bundle, pipeline=True, workers=1, threads=1, batch_windows=4,
                          predict_options={"top_k": 2}, preload=registered_model_modules())
    with BatchEngine(config) as engine:
        outcomes = list(engine.run(_jobs(library)))
    assert [o.job.name for o in outcomes] == NAMES
    assert [o.ok for o in outcomes] == [True, False, True, False, True, True]
    assert outcomes[3].error_type == "FileNotFoundError" and "missing.wav" not in outcomes[3].error
    reference = Classifier.load(tiny_bundle)
    for outcome in outcomes:
        if outcome.ok:
            expected = reference.predict(str(outcome.job.source), name=outcome.job.name, top_k=2).to_dict()
            _assert_same_prediction(outcome.result, expected)


def test_batch_windows_must_be_positive() -> None:
    with pytest.raises(InvalidParameterError, match="batch_windows"):
        EngineConfig(pipeline=True, batch_windows=0)


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared GTZAN clips not available")
def test_default_model_pipeline_equals_predict_on_shared_clips() -> None:
    files = sorted(SHARED.glob("*/*.flac"))[::20][:3]
    classifier = Classifier.load(threads=1)
    options = {"top_k": 3, "embed": True}
    songs = [prepare_job(classifier, Job(source=str(f), name=f.name), options) for f in files]
    assert all(isinstance(song, Prepared) for song in songs)
    for outcome, path in zip(infer_prepared(classifier, songs, batch_windows=32), files, strict=True):
        expected = classifier.predict(str(path), name=path.name, **options).to_dict()
        assert outcome.result["segment_embeddings"] is not None
        np.testing.assert_allclose(outcome.result["embedding"], expected["embedding"], atol=1e-5)
        outcome.result["embedding"] = expected["embedding"]
        outcome.result["segment_embeddings"] = expected["segment_embeddings"]
        _assert_same_prediction(outcome.result, expected)


def test_windows_per_batch_follows_the_device() -> None:
    assert EngineConfig(pipeline=True).windows_per_batch == 8  # CPU: larger batches only cost memory
    assert EngineConfig(pipeline=True, device="cuda").windows_per_batch == 64
    assert EngineConfig(pipeline=True, device="cuda", batch_windows=5).windows_per_batch == 5


@pytest.mark.slow
def test_a_crashing_decoder_fails_only_its_file_in_the_pipeline(tmp_path: Path, library: Path) -> None:
    import soundfile as sf

    from tests.batch.crashing_model import save_decoder_crashing_bundle
    from tests.predict.test_classifier import TINY_SR

    bundle = str(save_decoder_crashing_bundle(tmp_path / "crash"))
    sf.write(tmp_path / "silence.wav", np.zeros(2 * TINY_SR, dtype=np.float32), TINY_SR)
    jobs = [Job(source=str(library / "a.wav"), name="a"), Job(source=str(tmp_path / "silence.wav"), name="silence"),
            Job(source=str(library / "Artist/Album/b.flac"), name="b")]
    config = EngineConfig(model=bundle, pipeline=True, workers=1, threads=1, preload=registered_model_modules())
    with BatchEngine(config) as engine:
        outcomes = list(engine.run(jobs))
    assert [o.job.name for o in outcomes] == ["a", "silence", "b"]
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].error_type == "WorkerCrash"


def test_a_song_failing_in_inference_fails_alone(library: Path, tiny_bundle: str) -> None:
    classifier = Classifier.load(tiny_bundle)
    songs = [prepare_job(classifier, Job(source=str(library / n), name=n), {}) for n in ("a.wav", "Artist/Album/b.flac")]
    assert all(isinstance(song, Prepared) for song in songs)
    songs[1].song.kind = "patches"  # the tiny model has no patch stage: this song cannot run
    outcomes = infer_prepared(classifier, songs, batch_windows=8)
    assert [o.ok for o in outcomes] == [True, False]
    assert outcomes[1].error_type is not None and outcomes[1].job.name == "Artist/Album/b.flac"


@pytest.mark.slow
@pytest.mark.parametrize("batch_windows", [1, 64])  # one song a pass; all three in one pass
def test_a_crashing_model_fails_only_its_file_in_the_pipeline(tmp_path: Path, library: Path, batch_windows: int) -> None:
    import soundfile as sf

    from tests.batch.crashing_model import save_crashing_bundle
    from tests.predict.test_classifier import TINY_SR

    bundle = str(save_crashing_bundle(tmp_path / "crash"))  # the model (inference process) dies on silence
    sf.write(tmp_path / "silence.wav", np.zeros(2 * TINY_SR, dtype=np.float32), TINY_SR)
    jobs = [Job(source=str(library / "a.wav"), name="a"), Job(source=str(tmp_path / "silence.wav"), name="silence"),
            Job(source=str(library / "Artist/Album/b.flac"), name="b")]
    config = EngineConfig(model=bundle, pipeline=True, workers=1, threads=1, batch_windows=batch_windows,
                          preload=registered_model_modules())
    with BatchEngine(config) as engine:
        outcomes = list(engine.run(jobs))
    assert [o.job.name for o in outcomes] == ["a", "silence", "b"]
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].error_type == "WorkerCrash" and "inference" in outcomes[1].error
