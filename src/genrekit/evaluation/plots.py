"""Report figures (PNG): confusion matrix and reliability diagram.

Figures are drawn with matplotlib's object API on an Agg canvas, without pyplot, so no
global backend is switched and nothing needs a display.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from genrekit.evaluation.calibration import ReliabilityCurve

DPI = 110


def plot_confusion_matrix(
    confusion: np.ndarray | Sequence[Sequence[int]],
    labels: Sequence[str],
    path: str | os.PathLike[str],
    *,
    title: str = "Confusion matrix",
) -> Path:
    """Save counts (left) and row-normalised recall (right) side by side as a PNG.

    Parameters
    ----------
    confusion : array [shape=(n_labels, n_labels)]
        Rows are true labels, columns predicted labels.
    labels : sequence of str
    path : path
        Output PNG file.
    title : str

    Returns
    -------
    Path
        The written file.
    """
    counts = np.asarray(confusion, dtype=np.int64)
    row_sums = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, row_sums, out=np.zeros(counts.shape), where=row_sums > 0)
    n = len(labels)
    size = max(4.0, 0.45 * n + 2.5)
    fig = Figure(figsize=(2 * size + 1.0, size), dpi=DPI)
    FigureCanvasAgg(fig)
    panels = ((counts, "counts", "d"), (normalised, "row-normalised (recall)", ".2f"))
    for k, (matrix, subtitle, fmt) in enumerate(panels):
        ax = fig.add_subplot(1, 2, k + 1)
        vmax = max(float(matrix.max()), 1e-9) if k == 0 else 1.0
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=vmax)
        ax.set_xticks(range(n), labels=list(labels), rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(n), labels=list(labels), fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(subtitle, fontsize=10)
        for i in range(n):
            for j in range(n):
                value = matrix[i, j]
                if value:
                    text = format(int(value), fmt) if fmt == "d" else format(float(value), fmt)
                    color = "white" if value > 0.6 * vmax else "black"
                    ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, format="png")
    return out


def plot_reliability(
    curve: ReliabilityCurve,
    path: str | os.PathLike[str],
    *,
    ece: float | None = None,
    title: str = "Reliability diagram",
) -> Path:
    """Save a reliability diagram (accuracy vs. confidence per bin, with counts) as a PNG.

    Parameters
    ----------
    curve : ReliabilityCurve
    path : path
        Output PNG file.
    ece : float or None
        Shown in the title when given.
    title : str

    Returns
    -------
    Path
        The written file.
    """
    edges = np.asarray(curve.bin_edges)
    width = np.diff(edges)
    centers = edges[:-1] + width / 2
    acc = np.array([np.nan if a is None else a for a in curve.accuracy])
    conf = np.array([np.nan if c is None else c for c in curve.confidence])
    fig = Figure(figsize=(5.5, 6.5), dpi=DPI)
    FigureCanvasAgg(fig)
    ax, ax_count = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.bar(centers, np.nan_to_num(acc), width=width, edgecolor="black", alpha=0.7, label="accuracy")
    ax.plot(centers, conf, marker="o", linestyle="", color="red", markersize=4, label="mean confidence")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title if ece is None else f"{title} (ECE {ece:.3f})")
    ax_count.bar(centers, curve.counts, width=width, edgecolor="black", color="grey")
    ax_count.set_xlabel("top-class confidence")
    ax_count.set_ylabel("tracks")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, format="png")
    return out
