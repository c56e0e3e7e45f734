"""Neighbour quality of candidate track embeddings: which vector should "more like this" use?

For every clip of gtzan-dev and extra-pool (``--data``, default ``../shared/data``), the
frozen musicnn embeddings of its windows are extracted (cached, the same cache and
extraction as ``genrekit train --config configs/default.toml``: :mod:`genrekit.training.corpus`),
the windows inference reads by default (:data:`MAX_WINDOWS` spread over the clip) are kept,
each variant turns them into one
L2-normalised track vector, and for each query track we measure the fraction of its k
nearest neighbours (cosine) that share its genre label (precision@k), against the exact
expectation of k random neighbours from the same candidates.

Neighbours that could share an artist or a source clip do not count:

* gtzan-dev: queries from one split search the other split only (the fault-filtered split
  is artist-disjoint; GTZAN's per-track artists are not shipped);
* extra-pool: candidates with the query's group (source repository + artist where the file
  name has it, else the clip) or the query's source file are left out.

Variants trained with labels (``lda``) are fitted on the *other* dataset only (gtzan-dev
for extra-pool queries, extra-pool for gtzan-dev queries), so no query or candidate label
is seen. The standardisation statistics are the mean and spread of every clip's windows
(unsupervised).

Usage::

    .venv/bin/python scripts/eval_embeddings.py [--data ../shared/data] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from genrekit.datasets.cache import FeatureCache
from genrekit.models.heads import embedding_dims
from genrekit.training.corpus import BACKBONES, EMBEDDINGS, Clip, corpus_embeddings, feature_columns, list_corpus

KS = (5, 10)
MAX_WINDOWS = 4


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def source_keys(data: Path) -> dict[str, str]:
    """extra-pool file path -> its source file (two excerpts of one recording share it)."""
    with open(data / "extra-pool" / "manifest.csv", newline="", encoding="utf-8") as handle:
        return {str(data / "extra-pool" / r["file"]): f"{r['source_repo']}:{r['source_path']}" for r in csv.DictReader(handle)}


def precision_at_k(vectors: np.ndarray, labels: np.ndarray, allowed: np.ndarray, ks: tuple[int, ...]) -> dict[str, float]:
    """Mean fraction of each query's k nearest allowed neighbours sharing its label, and the
    random expectation (share of allowed candidates with the query's label)."""
    sims = vectors @ vectors.T
    sims[~allowed] = -np.inf
    order = np.argsort(-sims, axis=1)
    same = labels[order] == labels[:, None]
    out: dict[str, float] = {}
    for k in ks:
        out[f"p@{k}"] = round(float(same[:, :k].mean()), 4)
    random = [(labels[allowed[i]] == labels[i]).mean() for i in range(len(labels))]
    out["random"] = round(float(np.mean(random)), 4)
    return out


def make_variants(z_all: np.ndarray, scale_all: np.ndarray) -> dict[str, Callable[..., np.ndarray]]:
    """Variant name -> ``f(windows, fit_windows, fit_labels) -> window vectors``; ``z_all`` and
    ``scale_all`` standardise every cached column."""

    def cols(backbones: tuple[str, ...], embeddings: tuple[str, ...], standardise: bool) -> Callable[..., np.ndarray]:
        idx = feature_columns(backbones, embeddings)

        def f(x: np.ndarray, *_: object) -> np.ndarray:
            v = x[:, idx]
            return (v - z_all[idx]) / scale_all[idx] if standardise else v

        return f

    head_z = cols(("MSD_musicnn",), ("penultimate", "mean_pool", "max_pool"), True)

    fitted: dict[int, tuple[PCA, LinearDiscriminantAnalysis]] = {}

    def lda(x: np.ndarray, fit_x: np.ndarray, fit_y: np.ndarray) -> np.ndarray:
        if id(fit_x) not in fitted:  # fitted once per training set
            pca = PCA(n_components=128, random_state=0).fit(head_z(fit_x))
            model = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(pca.transform(head_z(fit_x)), fit_y)
            fitted[id(fit_x)] = (pca, model)
        pca, model = fitted[id(fit_x)]
        return model.transform(pca.transform(head_z(x)))

    def lda_plus_pen(x: np.ndarray, fit_x: np.ndarray, fit_y: np.ndarray) -> np.ndarray:
        pen = _normalise(cols(("MSD_musicnn",), ("penultimate",), True)(x))
        return np.concatenate([_normalise(lda(x, fit_x, fit_y)), pen], axis=1)

    return {
        "MSD penultimate (200)": cols(("MSD_musicnn",), ("penultimate",), False),
        "MSD penultimate, standardised (200)": cols(("MSD_musicnn",), ("penultimate",), True),
        "MSD mean+max pools, standardised (1506)": cols(("MSD_musicnn",), ("mean_pool", "max_pool"), True),
        "MSD pen+mean+max, standardised (1706)": head_z,
        "MSD+MTT pen+tags, standardised = model 2.0.0's head input (500)": cols(BACKBONES, ("penultimate", "taggram"), True),
        "MTT penultimate (200)": cols(("MTT_musicnn",), ("penultimate",), False),
        "tag space: MSD+MTT taggrams (100)": cols(BACKBONES, ("taggram",), False),
        "projection: PCA128 + LDA on genre labels (9)": lda,
        "projection LDA (9) + MSD penultimate std (200), concatenated": lda_plus_pen,
    }


def evaluate(data: Path) -> dict[str, dict[str, dict[str, float]]]:
    clips = [c for c in list_corpus(data) if c.in_taxonomy]
    windows = {c.path: e.inference for c, e in
               zip(clips, corpus_embeddings(clips, cache=FeatureCache(), max_windows=MAX_WINDOWS), strict=True)}
    every = np.concatenate(list(windows.values())).astype(np.float64)
    assert every.shape[1] == sum(w for _, w in embedding_dims(BACKBONES, EMBEDDINGS))
    variants = make_variants(every.mean(0), np.maximum(every.std(0), 1e-6))
    sources = source_keys(data)
    gtzan = [c for c in clips if c.source == "gtzan"]
    extra = [c for c in clips if c.source != "gtzan"]

    def fit_set(pool: list[Clip]) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([windows[c.path] for c in pool])
        y = np.concatenate([[c.label] * len(windows[c.path]) for c in pool])
        return x, y

    def track_vectors(pool: list[Clip], f: Callable[..., np.ndarray], fit: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        return _normalise(np.stack([_normalise(f(windows[c.path], *fit)).mean(0) for c in pool]))

    split = np.array([c.split for c in gtzan])
    allowed_gtzan = split[:, None] != split[None, :]
    groups = np.array([c.group for c in extra])
    src = np.array([sources.get(str(c.path), str(c.path)) for c in extra])
    allowed_extra = (groups[:, None] != groups[None, :]) & (src[:, None] != src[None, :])
    results: dict[str, dict[str, dict[str, float]]] = {}
    fit_extra, fit_gtzan = fit_set(extra), fit_set(gtzan)
    for name, f in variants.items():
        results[name] = {
            "gtzan-dev (valid<->train)": precision_at_k(
                track_vectors(gtzan, f, fit_extra), np.array([c.label for c in gtzan]), allowed_gtzan, KS
            ),
            "extra-pool (other artists/sources)": precision_at_k(
                track_vectors(extra, f, fit_gtzan), np.array([c.label for c in extra]), allowed_extra, KS
            ),
        }
        print(name, json.dumps(results[name]), flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    results = evaluate(args.data)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
