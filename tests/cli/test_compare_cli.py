"""``genrekit compare`` end to end: two cheap families, 2-fold CV, leaky demo, on tiny audio."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genrekit.cli.main import main

SR = 22050  # Hz, the table features' rate


def _write_dataset(root: Path) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(2 * SR) / SR  # 2.0 s: exactly one 2 s window
    for label, f0 in (("low", 160.0), ("high", 2500.0)):
        for i in range(5):
            f = f0 * (1 + 0.05 * i)
            y = 0.3 * np.sin(2 * np.pi * f * t) * (1 + 0.5 * np.sin(2 * np.pi * (2 + i) * t)) + 0.01 * rng.normal(size=t.size)
            path = root / label / f"{label}_{i}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, y.astype(np.float32), SR)


@pytest.mark.slow
def test_compare_two_families_cv_and_leaky(tmp_path, capsys):
    data, out, cache = tmp_path / "data", tmp_path / "out", tmp_path / "cache"
    _write_dataset(data)
    code = main(
        [
            "compare", "--data", str(data), "--cv", "2", "--families", "knn,logreg", "--out", str(out),
            "--set", "window_s=2.0", "--leaky", "--n-bootstrap", "100", "--cache-dir", str(cache),
            "--score-from-cache", "--keep-bundles",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "| knn | 2 |" in captured.out and "| logreg | 2 |" in captured.out
    rows = {r["family"]: r for r in csv.DictReader((out / "leaderboard.csv").open())}
    assert set(rows) == {"knn", "logreg"}
    for row in rows.values():
        assert float(row["accuracy_mean"]) == pytest.approx(1.0)
        assert float(row["bundle_mb"]) > 0 and float(row["ms_per_track"]) > 0 and float(row["train_s"]) > 0
    report = json.loads((out / "leaderboard.json").read_text())
    assert report["protocol"]["n_folds"] == 2
    for family in report["rows"]:
        assert sum(f["n_test"] for f in family["folds"]) == 10
        assert family["pooled"]["n_tracks"] == 10
    assert [item["estimator"] for item in report["leakage"]] == ["knn", "logreg"]
    assert "Leaky segment split vs honest split" in (out / "leaderboard.md").read_text()

    # Scoring from the trainer's cache agrees with the Classifier (the user's path).
    from genrekit.datasets import load_dataset
    from genrekit.workbench.compare import CompareSettings, plan_folds, score_table_from_cache
    from genrekit.evaluation.inference import predict_tracks
    from genrekit.predict import Classifier

    folds, _ = plan_folds(list(load_dataset(data).records), CompareSettings(cv=2))
    test_records = folds[0][1]["test"]
    classifier = Classifier.load(out / "runs" / "knn" / "fold0" / "bundle")
    cached = score_table_from_cache(classifier, test_records, CompareSettings(cache_dir=cache))
    direct = predict_tracks(classifier, test_records)
    assert [r.track_id for r in cached.records] == [r.track_id for r in direct.records]
    assert np.array_equal(cached.proba.argmax(axis=1), direct.proba.argmax(axis=1))
    assert np.allclose(cached.proba, direct.proba, atol=0.05)


def test_compare_rejects_bad_cv_and_unknown_family(tmp_path, capsys):
    _write_dataset(tmp_path / "data")
    assert main(["compare", "--data", str(tmp_path / "data"), "--cv", "1"]) == 1
    assert "--cv must be >= 2" in capsys.readouterr().err
    assert main(["compare", "--data", str(tmp_path / "data"), "--families", "knn,banjo"]) == 1
    assert "unknown families" in capsys.readouterr().err
    with pytest.raises(SystemExit) as excinfo:
        main(["compare", "--data", str(tmp_path / "data"), "--cv", "3", "--split", "dataset"])
    assert excinfo.value.code == 2


@pytest.mark.slow
def test_compare_lists_a_tuned_config_beside_the_defaults(tmp_path, capsys):
    data, out, cache = tmp_path / "data", tmp_path / "out", tmp_path / "cache"
    _write_dataset(data)
    tuned = tmp_path / "knn-tuned.toml"
    tuned.write_text(
        'family = "knn"\nwindow_s = 2.0\n\n[model]\nn_neighbors = 1\nweights = "uniform"\n\n'
        '[search]\n"model.n_neighbors" = { low = 1, high = 4 }\n\n[tuned]\nstudy = "s"\ntrial = 3\n'
    )
    code = main(
        [
            "compare", "--data", str(data), "--cv", "2", "--families", "knn", "--config", str(tuned), "--out", str(out),
            "--set", "window_s=2.0", "--n-bootstrap", "50", "--cache-dir", str(cache), "--score-from-cache",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    rows = {r["family"]: r for r in csv.DictReader((out / "leaderboard.csv").open())}
    assert set(rows) == {"knn", "knn (knn-tuned)"}
    report = json.loads((out / "leaderboard.json").read_text())
    assert report["protocol"]["families"] == ["knn", "knn (knn-tuned)"]
