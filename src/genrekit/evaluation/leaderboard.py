"""Leaderboard of model families: per-fold figures, their mean and spread, and tables.

One :class:`FoldRun` per (family, fold) holds what ``genrekit compare`` measured; a
:class:`LeaderboardRow` sums a family up: the mean and sample standard deviation of the
per-fold accuracy and macro-F1, the pooled out-of-fold metrics with their bootstrap
interval (every track predicted once, by the fold model that did not see it), training
time, inference time and bundle size.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genrekit.evaluation.metrics import EvaluationResult, MetricCI
from genrekit.evaluation.report import format_ci, format_value


@dataclass(frozen=True)
class FoldRun:
    """One family trained and tested on one fold (or the single split).

    Attributes
    ----------
    family : str
    fold : int
    n_train, n_valid, n_test : int
        Tracks per side.
    accuracy, macro_f1 : float
        Track-level, on the fold's test tracks.
    train_s : float
        Wall-clock training time (seconds), feature extraction included.
    ms_per_track : float
        Median wall-clock inference time per test track (ms), decoding included.
    bundle_mb : float
        Size of the saved bundle (MB, 10^6 bytes).
    n_failed : int
        Test tracks that could not be classified.
    """

    family: str
    fold: int
    n_train: int
    n_valid: int
    n_test: int
    accuracy: float
    macro_f1: float
    train_s: float
    ms_per_track: float
    bundle_mb: float
    n_failed: int = 0


@dataclass(frozen=True)
class LeaderboardRow:
    """One family's line of the leaderboard."""

    family: str
    folds: list[FoldRun]
    pooled: EvaluationResult | None = None
    notes: list[str] = field(default_factory=list)

    def _stat(self, name: str) -> tuple[float, float]:
        values = np.array([getattr(f, name) for f in self.folds], dtype=np.float64)
        if values.size == 0:
            return math.nan, math.nan
        sd = float(values.std(ddof=1)) if values.size > 1 else math.nan
        return float(values.mean()), sd

    @property
    def accuracy(self) -> tuple[float, float]:
        """Mean and sample sd of the per-fold accuracy."""
        return self._stat("accuracy")

    @property
    def macro_f1(self) -> tuple[float, float]:
        """Mean and sample sd of the per-fold macro-F1."""
        return self._stat("macro_f1")

    @property
    def train_s(self) -> float:
        """Median training time over folds (seconds): the first fold also fills the feature
        cache, so the mean would mostly measure feature extraction."""
        values = [f.train_s for f in self.folds]
        return float(np.median(values)) if values else math.nan

    @property
    def first_train_s(self) -> float:
        """Training time of the first fold (seconds), feature extraction into a cold cache included."""
        return self.folds[0].train_s if self.folds else math.nan

    @property
    def ms_per_track(self) -> float:
        """Mean over folds of the median inference time per track (ms)."""
        return self._stat("ms_per_track")[0]

    @property
    def bundle_mb(self) -> float:
        """Mean bundle size (MB)."""
        return self._stat("bundle_mb")[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary with the per-fold runs and the pooled result."""
        acc, acc_sd = self.accuracy
        f1, f1_sd = self.macro_f1
        return {
            "family": self.family,
            "n_folds": len(self.folds),
            "accuracy_mean": _none_if_nan(acc),
            "accuracy_sd": _none_if_nan(acc_sd),
            "macro_f1_mean": _none_if_nan(f1),
            "macro_f1_sd": _none_if_nan(f1_sd),
            "train_s": _none_if_nan(self.train_s),
            "first_train_s": _none_if_nan(self.first_train_s),
            "ms_per_track": _none_if_nan(self.ms_per_track),
            "bundle_mb": _none_if_nan(self.bundle_mb),
            "folds": [{k: _none_if_nan(v) for k, v in vars(f).items()} for f in self.folds],
            "pooled": self.pooled.to_dict() if self.pooled is not None else None,
            "notes": list(self.notes),
        }


def _none_if_nan(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _mean_sd(mean: float, sd: float) -> str:
    if not math.isfinite(sd):
        return format_value(mean)
    return f"{format_value(mean)} ± {format_value(sd)}"


def _pooled(metric: MetricCI | None) -> str:
    return format_ci(metric) if metric is not None else "n/a"


LEADERBOARD_COLUMNS = (
    "family",
    "folds",
    "accuracy_mean",
    "accuracy_sd",
    "macro_f1_mean",
    "macro_f1_sd",
    "pooled_accuracy",
    "pooled_accuracy_low",
    "pooled_accuracy_high",
    "pooled_macro_f1",
    "pooled_macro_f1_low",
    "pooled_macro_f1_high",
    "train_s",
    "first_train_s",
    "ms_per_track",
    "bundle_mb",
)


def sort_rows(rows: Sequence[LeaderboardRow]) -> list[LeaderboardRow]:
    """Rows by decreasing mean macro-F1 (failed families last)."""
    return sorted(rows, key=lambda r: -r.macro_f1[0] if math.isfinite(r.macro_f1[0]) else math.inf)


def format_leaderboard_markdown(rows: Sequence[LeaderboardRow], *, confidence: float = 0.95) -> str:
    """The leaderboard as a Markdown table (rows sorted by macro-F1).

    Columns: family, folds, accuracy and macro-F1 as per-fold mean ± sd, pooled out-of-fold
    accuracy and macro-F1 with their bootstrap interval, training time (median over folds,
    and the first fold's, which also fills the feature cache), inference (ms per track) and
    bundle size (MB).
    """
    level = int(round(confidence * 100))
    lines = [
        f"| family | folds | accuracy (mean ± sd) | macro-F1 (mean ± sd) | pooled accuracy [{level}% CI] "
        f"| pooled macro-F1 [{level}% CI] | train (s, median) | first fold (s) | inference (ms/track) | bundle (MB) |",
        "|---|---:|---|---|---|---|---:|---:|---:|---:|",
    ]
    for row in sort_rows(rows):
        pooled = row.pooled
        lines.append(
            f"| {row.family} | {len(row.folds)} | {_mean_sd(*row.accuracy)} | {_mean_sd(*row.macro_f1)} | "
            f"{_pooled(pooled.accuracy if pooled else None)} | {_pooled(pooled.macro_f1 if pooled else None)} | "
            f"{format_value(row.train_s, 1)} | {format_value(row.first_train_s, 1)} | "
            f"{format_value(row.ms_per_track, 1)} | {format_value(row.bundle_mb, 2)} |"
        )
    return "\n".join(lines) + "\n"


def format_leaderboard_csv(rows: Sequence[LeaderboardRow]) -> str:
    """The leaderboard as CSV text with :data:`LEADERBOARD_COLUMNS` (empty cell = undefined)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LEADERBOARD_COLUMNS)
    for row in sort_rows(rows):
        acc, acc_sd = row.accuracy
        f1, f1_sd = row.macro_f1
        p = row.pooled
        values: list[Any] = [row.family, len(row.folds), acc, acc_sd, f1, f1_sd]
        for metric in (p.accuracy if p else None, p.macro_f1 if p else None):
            values += [metric.value, metric.low, metric.high] if metric else [math.nan] * 3
        values += [row.train_s, row.first_train_s, row.ms_per_track, row.bundle_mb]
        writer.writerow(
            ["" if isinstance(v, float) and not math.isfinite(v) else (f"{v:.6g}" if isinstance(v, float) else v) for v in values]
        )
    return buffer.getvalue()
