"""The report directory: every file written, figures valid PNGs, texts consistent."""

from __future__ import annotations

import csv
import json

import numpy as np

from genrekit.evaluation import TrackPrediction, evaluate_predictions, format_summary, write_report
from genrekit.evaluation.report import format_confusion_text

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _result():
    labels = ["blues", "classical", "jazz"]
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.5, 0.1, 0.4], [0.2, 0.2, 0.6]])
    y = ["blues", "classical", "jazz", "jazz"]
    return labels, y, proba, evaluate_predictions(y, proba, labels, n_bootstrap=100, seed=0)


def test_write_report_writes_every_file(tmp_path):
    labels, y, proba, result = _result()
    preds = [
        TrackPrediction(f"{t}/{i}.wav", t, labels[int(p.argmax())], float(p.max())) for i, (t, p) in enumerate(zip(y, proba))
    ]
    out = write_report(tmp_path / "rep", result, preds, info={"model": "test-model 1.0", "split": "valid"})
    for name in ("confusion_matrix.png", "reliability.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"]["value"] == 0.75
    assert metrics["info"]["split"] == "valid"
    assert metrics["confusion"] == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert [r["predicted"] for r in rows] == ["blues", "classical", "blues", "jazz"]
    assert [r["correct"] for r in rows] == ["1", "1", "0", "1"]
    summary = (out / "summary.md").read_text()
    assert "| Accuracy | 0.750 [" in summary
    assert "test-model 1.0" in summary
    assert "| jazz | 2 | 1 |" in summary


def test_summary_and_confusion_text():
    labels, _, _, result = _result()
    text = format_confusion_text(result.confusion, labels)
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[3].split() == ["jazz", "1", "0", "1"]
    assert len({len(line) for line in lines}) == 1
    summary = format_summary(result, {"excluded labels": []})
    assert "- **excluded labels**: none" in summary
    assert "100 resamples, seed 0" in summary


def test_summary_marks_undefined_precision_and_recall():
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]])
    result = evaluate_predictions(["a", "a"], proba, ["a", "b", "c"], n_bootstrap=0)
    summary = format_summary(result)
    assert "| b | 0 | 1 | 0.000 | n/a | 0.000 |" in summary
    assert "| c | 0 | 0 | n/a | n/a | n/a |" in summary
