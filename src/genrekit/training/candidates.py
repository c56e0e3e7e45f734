"""The recipe's candidate heads: each fitted on some clips, cross-validated over the source folds
(held-out track logits, a row of the card's search table), and the best one chosen.

Fits are memoised within one process (:func:`fit_candidate_cached`; :func:`clear_fit_caches`
empties the memo), so the folds of an ensemble and of the out-of-taxonomy score reuse them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from genrekit.evaluation.calibration import fit_temperature
from genrekit.evaluation.metrics import macro_recall
from genrekit.numeric import softmax
from genrekit.training.corpus import GENRES, Corpus, feature_columns, product_cover
from genrekit.training.heads_fit import FittedHead, class_weights, fit_adam, fit_logreg, merge_linear, principal_basis
from genrekit.training.recipe_config import FEATURE_SETS, Candidate, RecipeConfig

_FIT_CACHE: dict[tuple[str, tuple[int, ...], int], FittedHead] = {}
_BASIS_CACHE: dict[tuple[Any, ...], Any] = {}


def fit_candidate_cached(candidate: Candidate, corpus: Corpus, indices: Sequence[int], seed: int,
                         candidates: Sequence[Candidate] = ()) -> FittedHead:
    """:func:`fit_candidate`, memoised by (candidate, clips, seed) within one process."""
    key = (candidate.name, tuple(indices), seed)
    if key not in _FIT_CACHE:
        by_name = {c.name: c for c in candidates}
        members = {m: (lambda m=m: fit_candidate_cached(by_name[m], corpus, indices, seed, candidates))
                   for m in candidate.members}
        _FIT_CACHE[key] = fit_candidate(candidate, corpus, indices, seed, members)
    return _FIT_CACHE[key]


def clear_fit_caches() -> None:
    """Forget every memoised fit (a new recipe run starts from none)."""
    _FIT_CACHE.clear()
    _BASIS_CACHE.clear()


def fit_candidate(candidate: Candidate, corpus: Corpus, indices: Sequence[int], seed: int,
                  fitted_members: Mapping[str, Callable[[], FittedHead]] | None = None) -> FittedHead:
    """Train ``candidate`` on the clips at ``indices``."""
    if candidate.members:
        members = [fitted_members[m]() for m in candidate.members]  # type: ignore[index]
        cols = feature_columns(*product_cover(np.concatenate([m.cols for m in members])))
        x, _ = corpus.training_matrix(indices, "window")
        return merge_linear(members, cols, x)
    backbones, embeddings = FEATURE_SETS[candidate.features]
    cols = feature_columns(backbones, embeddings)
    x, y = corpus.training_matrix(indices, candidate.level, candidate.train_windows, candidate.degradation)
    x = x[:, cols]
    weights = class_weights(y, len(GENRES), balance=candidate.balance)
    if candidate.head == "logreg":
        key = (candidate.features, candidate.level, candidate.train_windows, candidate.degradation, tuple(indices), seed)
        if key not in _BASIS_CACHE:
            _BASIS_CACHE[key] = principal_basis(x, seed)
        head = fit_logreg(x, y, weights, n_classes=len(GENRES), c=candidate.c, seed=seed, basis=_BASIS_CACHE[key])
    else:
        hidden = candidate.hidden_units if candidate.head == "mlp" else ()
        head = fit_adam(x, y, weights, n_classes=len(GENRES), hidden_units=hidden, dropout=candidate.dropout,
                        weight_decay=candidate.weight_decay, epochs=candidate.epochs, seed=seed)
    return FittedHead(cols, head)


def cross_validate(
    config: RecipeConfig, corpus: Corpus, log: Callable[[str], None]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, np.ndarray]]]:
    """Held-out track logits of every candidate on every source fold, and the search table."""
    folds = corpus.folds()
    logits: dict[str, dict[str, np.ndarray]] = {}
    table = []
    for candidate in config.candidates:
        started = time.perf_counter()
        logits[candidate.name] = {}
        for fold_name, held_out in folds:
            train = [i for i in corpus.inside if i not in set(held_out)]
            model = fit_candidate_cached(candidate, corpus, train, config.seed, config.candidates)
            logits[candidate.name][fold_name] = corpus.track_logits(model, held_out)
        row = summarise(candidate, logits[candidate.name], folds, corpus)
        table.append(row)
        log(f"{candidate.name:32s} mean macro-recall {row['mean_macro_recall']:.3f}  "
            + "  ".join(f"{k}: {v['accuracy']:.3f}/{v['macro_recall']:.3f}" for k, v in row["folds"].items())
            + f"  ({time.perf_counter() - started:.0f} s)")
    return table, logits


def summarise(candidate: Candidate, fold_logits: Mapping[str, np.ndarray], folds: Sequence[tuple[str, list[int]]],
              corpus: Corpus) -> dict[str, Any]:
    """Per-fold accuracy and macro-recall (temperature 1: the argmax does not depend on it)."""
    per_fold = {}
    for name, held_out in folds:
        y = corpus.y[held_out]
        pred = fold_logits[name].argmax(1)
        per_fold[name] = {"n": len(held_out), "accuracy": round(float(np.mean(pred == y)), 4),
                          "macro_recall": round(macro_recall(y, pred), 4)}
    all_logits = np.concatenate([fold_logits[n] for n, _ in folds])
    all_y = np.concatenate([corpus.y[h] for _, h in folds])
    temperature = fit_temperature(all_logits, all_y)
    proba = softmax(all_logits / temperature)
    return {
        "name": candidate.name,
        "recipe": {k: v for k, v in dataclasses.asdict(candidate).items() if k != "name"},
        "folds": per_fold,
        "mean_macro_recall": round(float(np.mean([f["macro_recall"] for f in per_fold.values()])), 4),
        "mean_accuracy": round(float(np.mean([f["accuracy"] for f in per_fold.values()])), 4),
        "pooled_nll": round(float(-np.mean(np.log(np.maximum(proba[np.arange(len(all_y)), all_y], 1e-12)))), 4),
    }


def select(table: Sequence[Mapping[str, Any]], config: RecipeConfig) -> Candidate:
    """The candidate with the best mean held-out macro-recall (ties: lower pooled NLL)."""
    best = max(table, key=lambda row: (row["mean_macro_recall"], -row["pooled_nll"]))
    return next(c for c in config.candidates if c.name == best["name"])
