"""Evaluation report directory: metrics.json, figures, summary.md and predictions.csv.

This module is an edge: it formats an :class:`~genrekit.evaluation.metrics.EvaluationResult`
as text and writes files; it computes nothing.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrekit.evaluation.metrics import EvaluationResult, MetricCI
from genrekit.evaluation.plots import plot_confusion_matrix, plot_reliability

METRICS_FILENAME = "metrics.json"
CONFUSION_FILENAME = "confusion_matrix.png"
RELIABILITY_FILENAME = "reliability.png"
SUMMARY_FILENAME = "summary.md"
PREDICTIONS_FILENAME = "predictions.csv"

_HEADLINE_NAMES = {
    "accuracy": "Accuracy",
    "macro_f1": "Macro-F1",
    "roc_auc_macro": "ROC-AUC (one-vs-rest, macro)",
    "ece": "Expected calibration error",
}


@dataclass(frozen=True)
class TrackPrediction:
    """One evaluated track: its path, true and predicted labels and the predicted score."""

    path: str
    true_label: str
    predicted: str
    score: float


def format_value(value: float | None, digits: int = 3) -> str:
    """A metric value for tables (``"n/a"`` when undefined)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def format_ci(metric: MetricCI, digits: int = 3) -> str:
    """``"0.812 [0.750, 0.870]"``, or the bare value when the interval is undefined."""
    value = format_value(metric.value, digits)
    if not (math.isfinite(metric.low) and math.isfinite(metric.high)):
        return value
    return f"{value} [{format_value(metric.low, digits)}, {format_value(metric.high, digits)}]"


def format_confusion_text(confusion: Sequence[Sequence[int]], labels: Sequence[str]) -> str:
    """The confusion matrix as an aligned text table (rows true, columns predicted)."""
    corner = "true \\ pred"
    first = max(max(len(lab) for lab in labels), len(corner))
    width = max(max(len(lab) for lab in labels), max(len(str(v)) for row in confusion for v in row), 4)
    lines = [corner.ljust(first) + " " + " ".join(lab.rjust(width) for lab in labels)]
    for lab, row in zip(labels, confusion):
        lines.append(lab.ljust(first) + " " + " ".join(str(int(v)).rjust(width) for v in row))
    return "\n".join(lines)


def format_summary(result: EvaluationResult, info: Mapping[str, Any] | None = None) -> str:
    """The Markdown summary of an evaluation.

    Parameters
    ----------
    result : EvaluationResult
    info : mapping or None
        Context shown first as a bullet list (model, bundle, data, split, exclusions, ...).

    Returns
    -------
    str
        Markdown text.
    """
    level = int(round(result.confidence * 100))
    lines = ["# Evaluation summary", ""]
    for key, value in (info or {}).items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value)) if value else "none"
        lines.append(f"- **{key}**: {value}")
    lines.append(f"- **tracks evaluated**: {result.n_tracks}")
    lines.append(
        f"- **intervals**: {level}% percentile bootstrap over tracks, "
        f"{result.n_bootstrap} resamples, seed {result.seed}"
    )
    lines += ["", "## Metrics", "", f"| metric | value [{level}% CI] |", "|---|---|"]
    for name, metric in result.headline().items():
        lines.append(f"| {_HEADLINE_NAMES[name]} | {format_ci(metric)} |")
    lines += [
        "",
        f"Macro-F1 averages {len(result.macro_f1_labels)} labels (true or predicted at least once); "
        f"ROC-AUC averages {len(result.roc_auc_labels)} labels present in the true labels.",
    ]
    for note in result.notes:
        lines.append(f"{note}.")
    lines += [
        "",
        "## Per class",
        "",
        "Precision is undefined (n/a) for a label never predicted, recall for a label never true; "
        "both count as 0 in macro-F1.",
        "",
        f"| label | support | predicted | precision | recall | F1 [{level}% CI] |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for c in result.per_class:
        f1 = format_ci(MetricCI(c.f1, c.f1_low, c.f1_high)) if c.support or c.n_predicted else "n/a"
        precision = format_value(c.precision) if c.n_predicted else "n/a"
        recall = format_value(c.recall) if c.support else "n/a"
        lines.append(f"| {c.label} | {c.support} | {c.n_predicted} | {precision} | {recall} | {f1} |")
    lines += [
        "",
        "## Confusion matrix",
        "",
        "Rows are true labels, columns predicted labels.",
        "",
        "```",
        format_confusion_text(result.confusion, result.labels),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_predictions_csv(path: str | os.PathLike[str], predictions: Sequence[TrackPrediction]) -> Path:
    """Write ``path,true,predicted,score,correct`` rows, one per track."""
    out = Path(path)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "true", "predicted", "score", "correct"])
        for p in predictions:
            writer.writerow([p.path, p.true_label, p.predicted, f"{p.score:.6f}", int(p.true_label == p.predicted)])
    return out


def write_report(
    out_dir: str | os.PathLike[str],
    result: EvaluationResult,
    predictions: Sequence[TrackPrediction] = (),
    *,
    info: Mapping[str, Any] | None = None,
) -> Path:
    """Write the report directory.

    Files: ``metrics.json`` (the result, plus ``info``), ``confusion_matrix.png``,
    ``reliability.png``, ``summary.md`` and ``predictions.csv``.

    Parameters
    ----------
    out_dir : path
        Created if missing; existing report files are replaced.
    result : EvaluationResult
    predictions : sequence of TrackPrediction
        One row per evaluated track.
    info : mapping or None
        JSON-ready context (model, data, split, exclusions, failures).

    Returns
    -------
    Path
        The report directory.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"info": dict(info or {}), **result.to_dict()}
    (out / METRICS_FILENAME).write_text(
        json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8"
    )
    plot_confusion_matrix(result.confusion, result.labels, out / CONFUSION_FILENAME)
    plot_reliability(result.reliability, out / RELIABILITY_FILENAME, ece=result.ece.value)
    (out / SUMMARY_FILENAME).write_text(format_summary(result, info), encoding="utf-8")
    write_predictions_csv(out / PREDICTIONS_FILENAME, predictions)
    return out
