"""More views from what ships: do the VGG backbones (MSD_vgg, MTT_vgg) or pooling across
windows add accuracy to the shipped musicnn pair, under the recipe's grouped CV?

Every in-taxonomy clip of ``--data`` (``../shared/data``) is scored by a class-balanced
logistic regression trained on every other source (leave one source out, the folds of
``genrekit train --config configs/default.toml``), from the windows ``predict`` reads (4
spread windows). The musicnn embeddings come from the recipe's cache; the VGG views
(``pool5`` + ``taggram`` of each) are extracted once for those windows and cached beside it.
The cost per song is the backbones' time for 4 windows, measured here in the same run.

Usage::

    .venv/bin/python scripts/eval_views.py [--data ../shared/data] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from genrekit.datasets.cache import FeatureCache
from genrekit.evaluation.metrics import macro_recall
from genrekit.models.heads import embedding_dims
from genrekit.training.corpus import BACKBONES, EMBEDDINGS, GENRES, Corpus, WindowEmbedder, corpus_embeddings, list_corpus
from genrekit.training.heads_fit import class_weights, fit_logreg

VGG_BACKBONES = ("MSD_vgg", "MTT_vgg")
VGG_EMBEDDINGS = ("pool5", "taggram")
MAX_WINDOWS = 4
SHIPPED = ("MSD_musicnn/penultimate", "MSD_musicnn/taggram", "MTT_musicnn/penultimate", "MTT_musicnn/taggram")
VIEWS: dict[str, tuple[tuple[str, ...], str]] = {  # name -> (embedding blocks, pooling over windows)
    "musicnn MSD+MTT pen+tags (shipped)": (SHIPPED, "window"),
    "+ MSD_vgg pool5+tags": (SHIPPED + ("MSD_vgg/pool5", "MSD_vgg/taggram"), "window"),
    "+ MTT_vgg pool5+tags": (SHIPPED + ("MTT_vgg/pool5", "MTT_vgg/taggram"), "window"),
    "+ both VGG pool5+tags": (SHIPPED + tuple(f"{b}/{e}" for b in VGG_BACKBONES for e in VGG_EMBEDDINGS), "window"),
    "+ both VGG tags": (SHIPPED + ("MSD_vgg/taggram", "MTT_vgg/taggram"), "window"),
    "VGG pair alone pool5+tags": (tuple(f"{b}/{e}" for b in VGG_BACKBONES for e in VGG_EMBEDDINGS), "window"),
    "shipped, mean+std pooled over windows": (SHIPPED, "mean+std"),
}
COST_BACKBONES = {"musicnn": BACKBONES, "+ MSD_vgg": BACKBONES + ("MSD_vgg",), "+ MTT_vgg": BACKBONES + ("MTT_vgg",),
                  "+ both VGG": BACKBONES + VGG_BACKBONES, "VGG pair alone": VGG_BACKBONES}


def block_offsets() -> dict[str, np.ndarray]:
    """Column indices of each embedding block in [musicnn cache | VGG cache] rows."""
    out, start = {}, 0
    for name, width in embedding_dims(BACKBONES, EMBEDDINGS) + embedding_dims(VGG_BACKBONES, VGG_EMBEDDINGS):
        out[name] = np.arange(start, start + width)
        start += width
    return out


def pooled(rows: np.ndarray, pooling: str) -> np.ndarray:
    """Rows a head reads for one clip: each window, or one mean+std row."""
    if pooling == "window":
        return rows
    return np.concatenate([rows.mean(0), rows.std(0)])[None, :]


def cross_validate(corpus: Corpus, x: Sequence[np.ndarray], pooling: str, seed: int) -> dict[str, object]:
    """Held-out accuracy / macro-recall per source fold, as the recipe's logreg candidates do."""
    per_fold, preds, truth = {}, [], []
    for name, held_out in corpus.folds():
        held = set(held_out)
        train = [i for i in corpus.inside if i not in held]
        xs = [pooled(x[i], pooling) for i in train]
        ys = np.concatenate([np.full(len(r), corpus.y[i]) for r, i in zip(xs, train)])
        xtr = np.concatenate(xs)
        head = fit_logreg(xtr, ys, class_weights(ys, len(GENRES), balance=True), n_classes=len(GENRES), c=1e-3,
                          seed=seed)
        with torch.no_grad():
            logits = [head(torch.from_numpy(pooled(x[i], pooling).astype(np.float32))).double().numpy().mean(0)
                      for i in held_out]
        pred = np.array([lg.argmax() for lg in logits])
        y = corpus.y[held_out]
        per_fold[name] = {"n": len(held_out), "accuracy": round(float(np.mean(pred == y)), 4),
                          "macro_recall": round(macro_recall(y, pred), 4)}
        preds.append(pred)
        truth.append(y)
    pred, y = np.concatenate(preds), np.concatenate(truth)
    return {"folds": per_fold, "mean_macro_recall": round(float(np.mean([f["macro_recall"] for f in per_fold.values()])), 4),
            "pooled_accuracy": round(float(np.mean(pred == y)), 4)}


def backbone_ms_per_song(cache_root: Path, n_windows: int = MAX_WINDOWS, repeats: int = 3) -> dict[str, float]:
    """Milliseconds to embed ``n_windows`` windows with each backbone set (median of ``repeats``)."""
    rng = np.random.default_rng(0)
    windows = (0.1 * rng.standard_normal((n_windows, 47872))).astype(np.float32)
    out = {}
    for name, backbones in COST_BACKBONES.items():
        embeddings = ("taggram",)
        embedder = WindowEmbedder(cache_root, backbones, embeddings)
        embedder(windows)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            embedder(windows)
            times.append(time.perf_counter() - started)
        out[name] = round(1000 * float(np.median(times)), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--json", default=None, help="write the table here as JSON")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    clips = list_corpus(args.data, min_source_clips=20)
    cache = FeatureCache(None)
    log = lambda message: print(message, flush=True)  # noqa: E731
    musicnn = corpus_embeddings(clips, cache=cache, max_windows=MAX_WINDOWS, log=log)
    vgg = corpus_embeddings(clips, cache=cache, max_windows=MAX_WINDOWS, log=log, backbones=VGG_BACKBONES,
                            embeddings=VGG_EMBEDDINGS, inference_only=True)
    corpus = Corpus(clips, musicnn)
    rows = [np.concatenate([m.inference, v.inference], axis=1) for m, v in zip(musicnn, vgg, strict=True)]
    offsets = block_offsets()
    table = {}
    for name, (blocks, pooling) in VIEWS.items():
        cols = np.concatenate([offsets[b] for b in blocks])
        table[name] = {"blocks": list(blocks), "pooling": pooling,
                       **cross_validate(corpus, [r[:, cols] for r in rows], pooling, args.seed)}
        print(f"{name:40s} mean macro-recall {table[name]['mean_macro_recall']:.3f}  "
              f"pooled accuracy {table[name]['pooled_accuracy']:.3f}  "
              + "  ".join(f"{k}: {v['macro_recall']:.3f}" for k, v in table[name]["folds"].items()), flush=True)
    torch.set_num_threads(2)
    cost = backbone_ms_per_song(cache.root)
    print("backbone ms per song (4 windows, 2 threads): " + ", ".join(f"{k} {v}" for k, v in cost.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"views": table, "ms_per_song": cost}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
