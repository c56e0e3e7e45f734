"""The picture of an explanation (matplotlib, PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genrekit.explain.song import Explanation

TOP_FEATURES = 15  # bars in a table model's picture
DISPLAY_PERCENTILE = 99.0  # saliency at or above this percentile of the positive cells shows at full strength
DPI = 80


def render_png(explanation: Explanation, path: str | Path) -> Path:
    """Write the explanation's picture.

    Spectrogram models: the explained windows side by side (the model's spectrogram, grey),
    with the occlusion saliency for the predicted genre over it and the integrated-gradients
    map below (where computed); under them each window's probability of the predicted genre and its share of
    the decision, decisive windows in red. Table models: the largest feature contributions.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = explanation.data
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    title = f"{data['name'] or 'song'}: {data['predicted']} ({data['probabilities'][data['predicted']]:.0%})"
    faith = data.get("faithfulness") or {}
    if faith:
        title += (
            f"; masking the top {faith['fraction']:.0%} drops it {faith['deletion_drop']:+.3f}"
            f" vs {faith['random_drop']:+.3f} at random"
        )
    if explanation.spectrogram is None:
        rows = data["feature_contributions"][:TOP_FEATURES][::-1]
        fig, ax = plt.subplots(figsize=(8, 5), dpi=DPI)
        values = [r["contribution"] for r in rows]
        ax.barh([r["feature"] for r in rows], values, color=["#d62728" if v > 0 else "#1f77b4" for v in values])
        ax.set_xlabel(f"contribution to p({data['predicted']}) (Shapley, probability points)")
        ax.set_title(title, fontsize=9)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path
    spec = np.concatenate(list(explanation.spectrogram), axis=1)
    windows = data["windows"]
    n_frames = explanation.spectrogram.shape[2]
    panels = [(m, label) for m, label in (("occlusion", "occlusion"), ("integrated_gradients", "integrated gradients")) if m in explanation.maps]
    n = len(panels)
    fig, axes = plt.subplots(
        n + 1, 1, figsize=(11, 2.5 + 2.5 * n), dpi=DPI, gridspec_kw={"height_ratios": [3] * n + [1.4]}, sharex=False
    )
    extent = (0, len(windows), 0, spec.shape[0])
    for ax, (method, label) in zip(axes, panels):
        saliency = np.concatenate(list(explanation.maps[method]), axis=1)
        positive = np.clip(saliency, 0, None)
        # integrated gradients are peaky per cell: scale by a high percentile, not the maximum
        peak = float(np.percentile(positive[positive > 0], DISPLAY_PERCENTILE)) if (positive > 0).any() else 1.0
        positive = np.clip(positive / (peak or 1.0), 0, 1)
        ax.imshow(spec, origin="lower", aspect="auto", cmap="gray_r", extent=extent, interpolation="nearest")
        overlay = np.zeros((*positive.shape, 4))
        overlay[..., 0] = 1.0
        overlay[..., 1] = 0.35
        overlay[..., 3] = positive * 0.85
        ax.imshow(overlay, origin="lower", aspect="auto", extent=extent, interpolation="nearest")
        ax.set_ylabel(f"{data['saliency']['spectrogram']} band")
        ax.set_title(f"{label}: where the model heard {data['predicted']}", fontsize=9)
        ax.set_xticks([i + 0.5 for i in range(len(windows))])
        ax.set_xticklabels([f"{w['start_s']:.0f}-{w['end_s']:.0f} s" for w in windows], fontsize=8)
        for i in range(1, len(windows)):
            ax.axvline(i, color="white", linewidth=1.5)
    target = data["predicted"]
    xs = np.arange(len(windows)) + 0.5
    probs = [w["probabilities"][target] for w in windows]
    colors = ["#d62728" if w["decisive"] else "#7f7f7f" for w in windows]
    axes[-1].bar(xs, probs, width=0.6, color=colors)
    for x, w in zip(xs, windows):
        axes[-1].text(x, 1.02, f"share {w['share']:.0%}", ha="center", va="bottom", fontsize=8)
    axes[-1].set_xlim(0, len(windows))
    axes[-1].set_ylim(0, 1.25)
    axes[-1].set_xticks(xs)
    axes[-1].set_xticklabels([f"window {w['index']}: top {w['top']}" for w in windows], fontsize=8)
    axes[-1].set_ylabel(f"p({target})")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    del n_frames
    return path
