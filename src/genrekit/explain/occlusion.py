"""Occlusion saliency and the deletion (faithfulness) check in NumPy: the serving path.

The same methods as :mod:`genrekit.explain.attribution` (which needs PyTorch), for a model
that only maps spectrogram batches to scores, such as an ONNX Runtime graph. ``spec`` is
``(n_windows, n_bins, n_frames)``; ``score`` maps a batch of that shape to ``(batch,)``
scores (the probability of the explained genre). Masked cells take each window's quietest
value (silence in that spectrogram). Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from genrekit.errors import InvalidParameterError

ArrayScore = Callable[[np.ndarray], np.ndarray]


def quiet_baseline(spec: np.ndarray) -> np.ndarray:
    """Each window's minimum value, shape ``(n_windows, 1, 1)``: what masked cells become."""
    return np.asarray(spec).min(axis=(1, 2), keepdims=True)


def _check_patch(patch_bins: int, patch_frames: int) -> None:
    if patch_bins < 1 or patch_frames < 1:
        raise InvalidParameterError(f"patch sizes must be >= 1, got {patch_bins} x {patch_frames}")


def occlusion_saliency(
    score: ArrayScore,
    spec: np.ndarray,
    *,
    patch_bins: int,
    patch_frames: int,
    batch_size: int = 16,
    reference: np.ndarray | None = None,
) -> np.ndarray:
    """Score drop when each ``patch_bins x patch_frames`` patch is set to the quiet baseline.

    Parameters
    ----------
    score : callable
        ``(batch, n_bins, n_frames) -> (batch,)``.
    spec : np.ndarray [shape=(n_windows, n_bins, n_frames)]
    patch_bins, patch_frames : int >= 1
        Patch size (bins, frames); edge patches are smaller.
    batch_size : int >= 1
        Occluded copies scored per call (all windows' copies share the batches).
    reference : np.ndarray [shape=(n_windows,)] or None
        ``score(spec)`` where already known (saves one pass).

    Returns
    -------
    np.ndarray [shape=(n_windows, n_bins, n_frames)], float32
        Every cell of a patch holds that patch's drop (positive: the patch supported the genre).
    """
    _check_patch(patch_bins, patch_frames)
    if batch_size < 1:
        raise InvalidParameterError(f"batch_size must be >= 1, got {batch_size}")
    spec = np.asarray(spec, dtype=np.float32)
    n, n_bins, n_frames = spec.shape
    base = quiet_baseline(spec)
    reference = np.asarray(score(spec) if reference is None else reference, dtype=np.float64)
    jobs = [(w, f, t) for w in range(n) for f in range(0, n_bins, patch_bins) for t in range(0, n_frames, patch_frames)]
    out = np.zeros_like(spec)
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        batch = spec[[w for w, _, _ in chunk]]
        for i, (w, f, t) in enumerate(chunk):
            batch[i, f : f + patch_bins, t : t + patch_frames] = base[w, 0, 0]
        scores = np.asarray(score(batch), dtype=np.float64)
        for i, (w, f, t) in enumerate(chunk):
            out[w, f : f + patch_bins, t : t + patch_frames] = reference[w] - scores[i]
    return out


def pool_patches(values: np.ndarray, *, patch_bins: int, patch_frames: int) -> np.ndarray:
    """Mean of each ``patch_bins x patch_frames`` patch, ``(n, ceil(bins / pb), ceil(frames / pf))``
    (edge patches average the cells they have)."""
    values = np.asarray(values, dtype=np.float64)
    n, n_bins, n_frames = values.shape
    rows = range(0, n_bins, patch_bins)
    cols = range(0, n_frames, patch_frames)
    return np.stack(
        [
            np.stack([values[:, f : f + patch_bins, t : t + patch_frames].mean(axis=(1, 2)) for t in cols], axis=1)
            for f in rows
        ],
        axis=1,
    )


def top_fraction_mask(saliency: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of each window's ``fraction`` highest values (ties: the first ones)."""
    if not 0.0 < fraction < 1.0:
        raise InvalidParameterError(f"fraction must be in (0, 1), got {fraction}")
    n = saliency.shape[0]
    flat = np.asarray(saliency).reshape(n, -1)
    k = max(1, int(round(fraction * flat.shape[1])))
    index = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    mask = np.zeros(flat.shape, dtype=bool)
    np.put_along_axis(mask, index, True, axis=1)
    return mask.reshape(saliency.shape)


def patch_mask(patch_scores: np.ndarray, fraction: float, *, patch_bins: int, patch_frames: int, shape: tuple[int, int]) -> np.ndarray:
    """Cells of each window's ``fraction`` highest-scoring patches, shape ``(n, *shape)``."""
    coarse = top_fraction_mask(patch_scores, fraction)
    cells = coarse.repeat(patch_bins, axis=1).repeat(patch_frames, axis=2)
    return cells[:, : shape[0], : shape[1]]


def deletion_check(
    score: ArrayScore,
    spec: np.ndarray,
    saliency: np.ndarray,
    *,
    patch_bins: int,
    patch_frames: int,
    fraction: float = 0.1,
    n_random: int = 5,
    seed: int = 0,
    reference: np.ndarray | None = None,
) -> dict[str, float | bool]:
    """Faithfulness: masking the most salient patches must hurt more than masking random ones.

    As :func:`genrekit.explain.attribution.deletion_check`: both masks are made of the same
    patches (the saliency averaged per patch ranks them); the random masks come from NumPy's
    generator, so ``random_drop`` differs from the PyTorch check's by sampling only.
    ``reference`` is ``score(spec)`` where already known.

    Returns
    -------
    dict
        ``deletion_drop`` and ``random_drop`` (mean drop over windows, probability points of the
        explained genre), ``fraction`` and ``passed`` (``deletion_drop > random_drop``).
    """
    _check_patch(patch_bins, patch_frames)
    spec = np.asarray(spec, dtype=np.float32)
    shape = (spec.shape[1], spec.shape[2])
    base = quiet_baseline(spec)
    pooled = pool_patches(saliency, patch_bins=patch_bins, patch_frames=patch_frames)
    rng = np.random.default_rng(seed)
    salient = patch_mask(pooled, fraction, patch_bins=patch_bins, patch_frames=patch_frames, shape=shape)
    randoms = [
        patch_mask(rng.random(pooled.shape), fraction, patch_bins=patch_bins, patch_frames=patch_frames, shape=shape)
        for _ in range(n_random)
    ]
    masks = np.concatenate([salient, *randoms], axis=0)
    copies = np.concatenate([spec] * (1 + n_random), axis=0)
    bases = np.concatenate([base] * (1 + n_random), axis=0)
    n = spec.shape[0]
    reference = np.asarray(score(spec) if reference is None else reference, dtype=np.float64)
    scores = np.asarray(score(np.where(masks, bases, copies).astype(np.float32)), dtype=np.float64).reshape(1 + n_random, n)
    drops = reference[None, :] - scores
    deletion = float(drops[0].mean())
    random_drop = float(drops[1:].mean())
    return {"deletion_drop": deletion, "random_drop": random_drop, "fraction": fraction, "passed": deletion > random_drop}


def adaptive_mean_pool(values: np.ndarray, *, n_bins: int, n_frames: int) -> np.ndarray:
    """Average-pool ``(n, bins, frames)`` to ``(n, min(n_bins, bins), min(n_frames, frames))``.

    Bin ``i`` of ``out`` averages input cells ``floor(i * in / out)`` to ``ceil((i + 1) * in / out)``
    (PyTorch's ``adaptive_avg_pool2d``); never upsamples.
    """
    values = np.asarray(values, dtype=np.float64)
    _, rows_in, cols_in = values.shape
    rows_out, cols_out = min(n_bins, rows_in), min(n_frames, cols_in)

    def edges(size_in: int, size_out: int) -> list[tuple[int, int]]:
        return [((i * size_in) // size_out, -((-(i + 1) * size_in) // size_out)) for i in range(size_out)]

    cumulative = np.zeros((values.shape[0], rows_in + 1, cols_in + 1))
    cumulative[:, 1:, 1:] = values.cumsum(axis=1).cumsum(axis=2)
    out = np.empty((values.shape[0], rows_out, cols_out))
    for i, (r0, r1) in enumerate(edges(rows_in, rows_out)):
        for j, (c0, c1) in enumerate(edges(cols_in, cols_out)):
            total = cumulative[:, r1, c1] - cumulative[:, r0, c1] - cumulative[:, r1, c0] + cumulative[:, r0, c0]
            out[:, i, j] = total / ((r1 - r0) * (c1 - c0))
    return out.astype(np.float32)
