"""A small synthetic feature table (3 genres, noisy, so settings matter) for tuning tests."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from genrekit.training.data import table_columns

GENRES = ("blues", "metal", "pop")


def write_noisy_table(path: Path, *, n_per_genre: int = 12, separation: float = 0.6, seed: int = 0) -> Path:
    """Kaggle-style ``features_30_sec.csv`` whose genres differ by ``separation`` sd in every column."""
    rng = np.random.default_rng(seed)
    columns = table_columns()
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "length", *columns, "label"])
        for g, genre in enumerate(GENRES):
            for i in range(n_per_genre):
                values = rng.normal(size=len(columns)) + separation * g
                writer.writerow([f"{genre}.{i:05d}.wav", 661794, *values, genre])
    return path


def write_search_config(path: Path) -> Path:
    """A logreg config with a one-dimensional search space."""
    path.write_text(
        'family = "logreg"\nwindow_s = 30.0\n\n[model]\nc = 1.0\n\n'
        '[search]\n"model.c" = { low = 1e-4, high = 10.0, log = true }\n',
        encoding="utf-8",
    )
    return path
