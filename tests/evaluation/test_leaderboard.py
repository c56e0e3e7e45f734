"""Leaderboard aggregation over folds and its Markdown / CSV tables."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from genrekit.evaluation import evaluate_predictions
from genrekit.evaluation.leaderboard import (
    LEADERBOARD_COLUMNS,
    FoldRun,
    LeaderboardRow,
    format_leaderboard_csv,
    format_leaderboard_markdown,
)


def _run(family, fold, acc, f1, train_s):
    return FoldRun(family, fold, 10, 2, 4, acc, f1, train_s, 12.0, 0.5)


def _rows():
    pooled = evaluate_predictions(["a", "b"], np.array([[0.9, 0.1], [0.2, 0.8]]), ["a", "b"], n_bootstrap=50)
    good = LeaderboardRow("svm", [_run("svm", 0, 0.8, 0.7, 30.0), _run("svm", 1, 0.6, 0.5, 1.0), _run("svm", 2, 0.7, 0.6, 2.0)], pooled)
    weak = LeaderboardRow("knn", [_run("knn", 0, 0.5, 0.4, 20.0)])
    return [weak, good]


def test_mean_sd_and_median_training_time():
    _, good = _rows()
    assert good.accuracy == pytest.approx((0.7, 0.1))
    assert good.macro_f1 == pytest.approx((0.6, 0.1))
    assert good.train_s == 2.0 and good.first_train_s == 30.0
    assert good.ms_per_track == 12.0 and good.bundle_mb == 0.5


def test_markdown_sorted_by_macro_f1_with_spread_and_ci():
    text = format_leaderboard_markdown(_rows())
    lines = text.splitlines()
    assert lines[2].startswith("| svm | 3 | 0.700 ± 0.100 | 0.600 ± 0.100 | 1.000 [1.000, 1.000] |")
    assert lines[3].startswith("| knn | 1 | 0.500 | 0.400 | n/a | n/a |")


def test_csv_has_every_column_and_empty_cells_for_undefined():
    rows = list(csv.reader(io.StringIO(format_leaderboard_csv(_rows()))))
    assert tuple(rows[0]) == LEADERBOARD_COLUMNS
    assert rows[1][0] == "svm" and rows[2][0] == "knn"
    knn = dict(zip(rows[0], rows[2]))
    assert knn["accuracy_sd"] == "" and knn["pooled_accuracy"] == ""
    assert float(knn["accuracy_mean"]) == 0.5
