"""Honest, track-level evaluation: metrics with bootstrap intervals, calibration, reports."""

from genrekit.evaluation.bootstrap import bootstrap_ci, bootstrap_indices, percentile_interval
from genrekit.evaluation.calibration import ReliabilityCurve, expected_calibration_error, reliability_curve
from genrekit.evaluation.metrics import (
    ClassMetrics,
    EvaluationResult,
    MetricCI,
    evaluate_predictions,
)
from genrekit.evaluation.report import TrackPrediction, format_summary, write_report

__all__ = [
    "ClassMetrics",
    "EvaluationResult",
    "MetricCI",
    "ReliabilityCurve",
    "TrackPrediction",
    "bootstrap_ci",
    "bootstrap_indices",
    "evaluate_predictions",
    "expected_calibration_error",
    "format_summary",
    "percentile_interval",
    "reliability_curve",
    "write_report",
]
