"""The batch engine: results in job order, failures as outcomes, the same results with 2 worker
processes as in-process, and the embed hook passed to predict only when given."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrekit.batch.engine import BatchEngine, EngineConfig, Job, classify_job, plain_reason, registered_model_modules


def jobs_of(library: Path) -> list[Job]:
    names = ["a.wav", "Various/broken.mp3", "Artist/Album/b.flac", "Various/missing.wav"]
    return [Job(source=str(library / n), name=n) for n in names]


def test_in_process_engine_keeps_job_order_and_reports_failures(library: Path, tiny_bundle: str) -> None:
    config = EngineConfig(model=tiny_bundle, workers=1, predict_options={"top_k": 2}, preload=registered_model_modules())
    with BatchEngine(config) as engine:
        outcomes = list(engine.run(jobs_of(library)))
    assert [o.job.name for o in outcomes] == [j.name for j in jobs_of(library)]
    assert [o.ok for o in outcomes] == [True, False, True, False]
    assert outcomes[0].result["model"]["name"] == "tiny-test" and len(outcomes[0].result["tags"]) == 2
    assert len(outcomes[0].sha256) == 64 and outcomes[0].size_bytes == (library / "a.wav").stat().st_size
    assert outcomes[3].error_type == "FileNotFoundError" and "missing.wav" not in outcomes[3].error


@pytest.mark.slow
def test_two_worker_processes_give_the_same_results(library: Path, tiny_bundle: str) -> None:
    preload = registered_model_modules()
    assert "tests.predict.test_classifier" in preload  # the tiny model type reaches the workers
    results = {}
    for workers in (1, 2):
        with BatchEngine(EngineConfig(model=tiny_bundle, workers=workers, preload=preload)) as engine:
            results[workers] = [(o.job.name, o.ok, o.sha256, o.result) for o in engine.run(jobs_of(library))]
    assert results[1] == results[2]


def test_embed_is_passed_only_when_given(library: Path) -> None:
    seen: list[dict] = []

    class Recorder:
        def predict(self, source, **options):  # noqa: ANN001, ANN003, ANN201
            seen.append(options)
            raise ValueError("stop here")

    job = Job(source=str(library / "a.wav"), name="a.wav")
    for embed in (None, True):
        config = EngineConfig(predict_options={"top_k": 1}, embed=embed)
        outcome = classify_job(Recorder(), job, config.options)
        assert not outcome.ok and outcome.error_type == "ValueError"
    assert seen == [{"name": "a.wav", "top_k": 1}, {"name": "a.wav", "top_k": 1, "embed": True}]


def test_plain_reason_drops_the_path() -> None:
    assert plain_reason(ValueError("/x/y.mp3: cannot decode"), "/x/y.mp3") == "cannot decode"
    assert plain_reason(FileNotFoundError(2, "No such file or directory"), "/x") == "No such file or directory"


@pytest.mark.slow
def test_a_crashing_worker_fails_only_its_file_and_the_run_goes_on(tmp_path: Path, library: Path) -> None:
    import numpy as np
    import soundfile as sf

    from tests.batch.crashing_model import save_crashing_bundle
    from tests.predict.test_classifier import TINY_SR

    bundle = str(save_crashing_bundle(tmp_path / "crash"))
    sf.write(tmp_path / "silence.wav", np.zeros(2 * TINY_SR, dtype=np.float32), TINY_SR)
    jobs = [Job(source=str(tmp_path / "silence.wav"), name="silence"), Job(source=str(library / "a.wav"), name="a")]
    config = EngineConfig(model=bundle, workers=2, preload=registered_model_modules())
    with BatchEngine(config) as engine:
        outcomes = {o.job.name: o for o in engine.run(jobs)}
    assert outcomes["silence"].error_type == "WorkerCrash"
    assert outcomes["a"].ok
