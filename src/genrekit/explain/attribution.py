"""Attribution methods on spectrogram windows and on table-feature rows.

Every spectrogram function takes ``spec`` of shape ``(n_windows, n_bins, n_frames)`` and a
``score`` callable mapping such a batch to ``(n_windows,)`` scores (the probability of the
explained genre), differentiable for :func:`integrated_gradients`. Masked cells are set to
``baseline`` (per window: the window's quietest value, i.e. silence in that spectrogram).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from genrekit.errors import InvalidParameterError

Score = Callable[[Tensor], Tensor]


def quiet_baseline(spec: Tensor) -> Tensor:
    """Each window's minimum value, shape ``(n_windows, 1, 1)``: what masked cells become."""
    return spec.amin(dim=(1, 2), keepdim=True)


def occlusion_saliency(
    score: Score, spec: Tensor, *, patch_bins: int, patch_frames: int, batch_size: int = 16
) -> Tensor:
    """Score drop when each ``patch_bins x patch_frames`` patch is set to the quiet baseline.

    Parameters
    ----------
    score : callable
        ``(batch, n_bins, n_frames) -> (batch,)``.
    spec : Tensor [shape=(n_windows, n_bins, n_frames)]
    patch_bins, patch_frames : int >= 1
        Patch size (bins, frames); edge patches are smaller.
    batch_size : int >= 1
        Occluded copies scored per call.

    Returns
    -------
    Tensor [shape=(n_windows, n_bins, n_frames)]
        Every cell of a patch holds that patch's drop (positive: the patch supported the genre).
    """
    if patch_bins < 1 or patch_frames < 1:
        raise InvalidParameterError(f"patch sizes must be >= 1, got {patch_bins} x {patch_frames}")
    n, n_bins, n_frames = spec.shape
    base = quiet_baseline(spec)
    with torch.no_grad():
        reference = score(spec)
        patches = [(f, t) for f in range(0, n_bins, patch_bins) for t in range(0, n_frames, patch_frames)]
        out = torch.zeros_like(spec)
        for w in range(n):
            for start in range(0, len(patches), batch_size):
                chunk = patches[start : start + batch_size]
                batch = spec[w].unsqueeze(0).repeat(len(chunk), 1, 1)
                for i, (f, t) in enumerate(chunk):
                    batch[i, f : f + patch_bins, t : t + patch_frames] = base[w]
                drops = reference[w] - score(batch)
                for i, (f, t) in enumerate(chunk):
                    out[w, f : f + patch_bins, t : t + patch_frames] = drops[i]
    return out


def integrated_gradients(score: Score, spec: Tensor, *, n_steps: int = 16) -> Tensor:
    """Integrated gradients from the quiet baseline to ``spec`` (midpoint rule).

    Returns
    -------
    Tensor [shape=(n_windows, n_bins, n_frames)]
        ``(spec - baseline) * mean gradient along the path``; the cells of one window sum
        to about ``score(spec) - score(baseline)`` (completeness).
    """
    if n_steps < 1:
        raise InvalidParameterError(f"n_steps must be >= 1, got {n_steps}")
    base = quiet_baseline(spec).expand_as(spec)
    delta = spec - base
    total = torch.zeros_like(spec)
    for step in range(n_steps):
        alpha = (step + 0.5) / n_steps
        point = (base + alpha * delta).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(score(point).sum(), point)
        total += grad.detach()
    return delta * total / n_steps


def top_fraction_mask(saliency: Tensor, fraction: float) -> Tensor:
    """Boolean mask of each window's ``fraction`` most salient cells."""
    if not 0.0 < fraction < 1.0:
        raise InvalidParameterError(f"fraction must be in (0, 1), got {fraction}")
    n = saliency.shape[0]
    flat = saliency.reshape(n, -1)
    k = max(1, int(round(fraction * flat.shape[1])))
    index = flat.topk(k, dim=1).indices
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask.scatter_(1, index, True)
    return mask.reshape(saliency.shape)


def patch_mask(patch_scores: Tensor, fraction: float, *, patch_bins: int, patch_frames: int, shape: tuple[int, int]) -> Tensor:
    """Cells of each window's ``fraction`` highest-scoring patches, shape ``(n, *shape)``.

    ``patch_scores`` is ``(n, n_patch_rows, n_patch_cols)``; edge patches are cut to ``shape``.
    """
    coarse = top_fraction_mask(patch_scores, fraction)
    cells = coarse.repeat_interleave(patch_bins, dim=1).repeat_interleave(patch_frames, dim=2)
    return cells[:, : shape[0], : shape[1]]


def deletion_check(
    score: Score,
    spec: Tensor,
    saliency: Tensor,
    *,
    patch_bins: int,
    patch_frames: int,
    fraction: float = 0.1,
    n_random: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """Faithfulness: masking the most salient patches must hurt more than masking random ones.

    Both masks are made of the same ``patch_bins x patch_frames`` patches (the saliency is
    averaged per patch to rank them), so they differ only in *where* they are: the same
    number of cells, the same shape of holes.

    Parameters
    ----------
    score : callable
    spec, saliency : Tensor [shape=(n_windows, n_bins, n_frames)]
    patch_bins, patch_frames : int >= 1
    fraction : float in (0, 1)
        Share of each window's patches masked (set to the quiet baseline).
    n_random : int >= 1
        Random masks of the same size, averaged.
    seed : int

    Returns
    -------
    dict
        ``deletion_drop`` and ``random_drop``: mean score drop over windows (probability
        points of the explained genre), ``fraction``, and ``passed``:
        ``deletion_drop > random_drop``.
    """
    if patch_bins < 1 or patch_frames < 1:
        raise InvalidParameterError(f"patch sizes must be >= 1, got {patch_bins} x {patch_frames}")
    shape = (spec.shape[1], spec.shape[2])
    base = quiet_baseline(spec)
    pooled = torch.nn.functional.avg_pool2d(
        saliency.unsqueeze(1), (patch_bins, patch_frames), ceil_mode=True
    ).squeeze(1)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        reference = score(spec)
        salient = patch_mask(pooled, fraction, patch_bins=patch_bins, patch_frames=patch_frames, shape=shape)
        deletion = float((reference - score(torch.where(salient, base, spec))).mean())
        drops = []
        for _ in range(n_random):
            noise = torch.rand(pooled.shape, generator=generator)
            masked = patch_mask(noise, fraction, patch_bins=patch_bins, patch_frames=patch_frames, shape=shape)
            drops.append(float((reference - score(torch.where(masked, base, spec))).mean()))
    random_drop = float(np.mean(drops))
    return {"deletion_drop": deletion, "random_drop": random_drop, "fraction": fraction, "passed": deletion > random_drop}


def shapley_contributions(
    predict_proba: Callable[[np.ndarray], np.ndarray],
    row: np.ndarray,
    baseline: np.ndarray,
    target: int,
    *,
    n_permutations: int = 64,
    seed: int = 0,
) -> np.ndarray:
    """Shapley values of each feature for one row, by permutation sampling.

    Features absent from a coalition take their ``baseline`` value (the training mean).

    Parameters
    ----------
    predict_proba : callable
        ``(n_rows, n_features) -> (n_rows, n_labels)``.
    row, baseline : np.ndarray [shape=(n_features,)]
    target : int
        Column of the explained label.
    n_permutations : int >= 1
    seed : int

    Returns
    -------
    np.ndarray [shape=(n_features,)]
        Contributions (probability points); they sum to ``p(row) - p(baseline)``.
    """
    if n_permutations < 1:
        raise InvalidParameterError(f"n_permutations must be >= 1, got {n_permutations}")
    row = np.asarray(row, dtype=np.float64)
    baseline = np.asarray(baseline, dtype=np.float64)
    n_features = row.shape[0]
    rng = np.random.default_rng(seed)
    orders = np.stack([rng.permutation(n_features) for _ in range(n_permutations)])
    states = np.repeat(baseline[None, None, :], n_features + 1, axis=1).repeat(n_permutations, axis=0)
    for p, order in enumerate(orders):
        for step, feature in enumerate(order, start=1):
            states[p, step:, feature] = row[feature]
    proba = np.asarray(predict_proba(states.reshape(-1, n_features)))[:, target].reshape(n_permutations, n_features + 1)
    gains = np.diff(proba, axis=1)
    out = np.zeros(n_features)
    for p, order in enumerate(orders):
        out[order] += gains[p]
    return out / n_permutations
