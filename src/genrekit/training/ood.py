"""The out-of-taxonomy ("none of these") score of the default model.

Candidate scores (:data:`METHOD_COLUMNS`) combine, per clip, one minus the top probability, the
mean window energy and the mean logit of a detector (class-balanced logistic regression, windows
of in-taxonomy vs out-of-taxonomy clips), through a Platt calibration. :func:`evaluate_ood` scores
each with whole sources held out on both sides (:func:`ood_folds`) and picks the one to ship;
:func:`set_shipped_score` writes it into the shipped head.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from genrekit.errors import InvalidParameterError
from genrekit.evaluation.metrics import auroc
from genrekit.models.heads import MusicnnHead
from genrekit.numeric import logsumexp, sigmoid, softmax
from genrekit.training.candidates import fit_candidate_cached
from genrekit.training.corpus import Corpus, feature_columns
from genrekit.training.heads_fit import FittedHead, class_weights, fit_logreg
from genrekit.training.levels import best_at_target, unknown_curve
from genrekit.training.recipe_config import FEATURE_SETS, SHIPPABLE_OOD, Candidate, RecipeConfig


def detector_columns(config: RecipeConfig, head_cols: np.ndarray) -> np.ndarray:
    """Columns the out-of-taxonomy detector reads: the recipe's ``ood_features`` (a subset of the
    head's inputs, so the shipped head can compute it), or all of the head's inputs."""
    if not config.ood_features:
        return head_cols
    cols = feature_columns(*FEATURE_SETS[config.ood_features])
    if not np.isin(cols, head_cols).all():
        raise InvalidParameterError(f"ood_features {config.ood_features!r} must be among the head's inputs")
    return cols


def fit_detector(corpus: Corpus, inside: Sequence[int], outside: Sequence[int], cols: np.ndarray, *,
                 c: float, seed: int) -> FittedHead:
    """Class-balanced logistic regression, windows of in-taxonomy (0) vs out-of-taxonomy (1) clips."""
    x_in, _ = corpus.training_matrix(inside, "window")
    x_out, _ = corpus.training_matrix(outside, "window")
    x = np.concatenate([x_in, x_out])[:, cols]
    y = np.concatenate([np.zeros(len(x_in), np.int64), np.ones(len(x_out), np.int64)])
    head = fit_logreg(x, y, class_weights(y, 2, balance=True), n_classes=2, c=c, seed=seed)
    return FittedHead(cols, head)


def ood_features(corpus: Corpus, model: FittedHead, detector: FittedHead | None, temperature: float,
                 indices: Sequence[int]) -> np.ndarray:
    """Per clip: (1 - top probability, -mean window energy, mean window detector logit)."""
    rows = []
    for i in indices:
        windows = corpus.embeddings[i].inference
        logits = model.logits(windows) / temperature
        track = softmax(logits.mean(0))
        energy = logsumexp(logits).mean()
        if detector is not None:
            d = detector.logits(windows)
            detector_logit = float((d[:, 1] - d[:, 0]).mean())
        else:
            detector_logit = 0.0
        rows.append((1.0 - track.max(), -energy, detector_logit))
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


METHOD_COLUMNS = {"max_prob": (0,), "energy": (1,), "detector": (2,), "detector+energy": (1, 2)}


def fit_platt(features: np.ndarray, is_outside: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    """Logistic regression (balanced) of outside-ness on a few score features: (weights, bias)."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=10.0, class_weight="balanced", random_state=seed).fit(features, is_outside)
    return lr.coef_[0].astype(np.float64), float(lr.intercept_[0])


def _finite(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None


def ood_folds(corpus: Corpus) -> list[tuple[str, list[int], list[int]]]:
    """(source, held-out in-taxonomy clips, held-out out-of-taxonomy clips) of each source fold:
    the in-taxonomy folds of :meth:`Corpus.folds`, each with the out-of-taxonomy clips of the same
    source, then one fold per out-of-taxonomy source that has no in-taxonomy clips."""
    folds = corpus.folds()
    names = {name for name, _ in folds}
    outside_of = {}
    for i in corpus.outside:
        outside_of.setdefault(corpus.clips[i].source, []).append(i)
    plan = [(name, held_out, outside_of.get(name, [])) for name, held_out in folds]
    plan += [(source, [], clips) for source, clips in sorted(outside_of.items()) if source not in names]
    return plan


def evaluate_ood(config: RecipeConfig, corpus: Corpus, chosen: Candidate, temperatures: Mapping[str, float],
                 log: Callable[[str], None]) -> dict[str, Any]:
    """Held-out AUROC of each OOD method, with whole sources held out on both sides (:func:`ood_folds`):
    a fold's clips are scored by a head and a detector that saw none of their source; the pooled
    held-out features for calibration."""
    plan = ood_folds(corpus)
    fallback_t = float(np.median(list(temperatures.values())))
    feats_in, feats_out, fold_of_in, fold_of_out = [], [], [], []
    for k, (name, held_out, held_outside) in enumerate(plan):
        train = [i for i in corpus.inside if i not in set(held_out)]
        outside_train = [i for i in corpus.outside if i not in set(held_outside)]
        model = fit_candidate_cached(chosen, corpus, train, config.seed, config.candidates)
        detector = fit_detector(corpus, train, outside_train, detector_columns(config, model.cols), c=config.ood_c,
                                seed=config.seed) \
            if outside_train else None
        temperature = temperatures.get(name, fallback_t)
        feats_in.append(ood_features(corpus, model, detector, temperature, held_out))
        feats_out.append(ood_features(corpus, model, detector, temperature, held_outside))
        fold_of_in += [k] * len(held_out)
        fold_of_out += [k] * len(held_outside)
    f_in, f_out = np.concatenate(feats_in), np.concatenate(feats_out)
    k_in, k_out = np.array(fold_of_in), np.array(fold_of_out)
    results: dict[str, Any] = {}
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for method in config.ood_methods:
        cols = list(METHOD_COLUMNS[method])
        s_in, s_out = np.zeros(len(f_in)), np.zeros(len(f_out))
        for k in range(len(plan)):  # cross-fitted calibration: fold k's scores from the other folds' fit
            fit_in, fit_out = f_in[k_in != k][:, cols], f_out[k_out != k][:, cols]
            if len(fit_out) == 0:
                continue
            w, b = fit_platt(np.concatenate([fit_in, fit_out]), np.r_[np.zeros(len(fit_in)), np.ones(len(fit_out))],
                             config.seed)
            s_in[k_in == k] = sigmoid(f_in[k_in == k][:, cols] @ w + b)
            s_out[k_out == k] = sigmoid(f_out[k_out == k][:, cols] @ w + b)
        per_fold = {name: _finite(auroc(s_in[k_in == k], s_out[k_out == k])) for k, (name, _, _) in enumerate(plan)}
        held_out_sources = {name: _finite(auroc(s_in, s_out[k_out == k]))
                            for k, (name, _, outside) in enumerate(plan) if outside}
        results[method] = {"pooled_auroc": round(auroc(s_in, s_out), 4), "per_fold_auroc": per_fold,
                           "per_out_of_taxonomy_source_auroc": held_out_sources}
        scores[method] = (s_in, s_out)
        log(f"ood {method:16s} held-out AUROC {results[method]['pooled_auroc']:.3f}  by source {held_out_sources}")
    fold_in = np.array([plan[k][0] for k in k_in], dtype=object)
    fold_out = np.array([plan[k][0] for k in k_out], dtype=object)
    for method in config.ood_methods:  # the trade-off on unseen sources, each judged by the others' threshold
        s_in, s_out = scores[method]
        curve = unknown_curve(s_in, fold_in, s_out, fold_out)
        results[method]["unknown_curve"] = curve
        results[method]["at_target"] = best_at_target(curve, config.ood_false_unknown_rate)
    shippable = [m for m in config.ood_methods if m in SHIPPABLE_OOD]
    method = max(shippable, key=lambda m: ((results[m]["at_target"] or {}).get("out_of_taxonomy_caught") or 0.0,
                                           results[m]["pooled_auroc"]))
    at_target = results[method]["at_target"]
    useful = bool(at_target) and (at_target["out_of_taxonomy_caught"] or 0.0) > at_target["in_taxonomy_unknown"]
    s_in, s_out = scores[method]
    rate = at_target["quantile_rate"] if at_target else config.ood_false_unknown_rate
    threshold = float(np.quantile(s_in, 1.0 - rate))
    log(f"ood chosen: {method}; at the target on unseen sources: {at_target}; "
        + ("thresholded" if useful else "not thresholded (it would call more in-taxonomy songs unknown than it catches)"))
    return {
        "methods": results,
        "chosen": method,
        "thresholded": useful,
        "protocol": "each fold holds out one source on both sides (its in-taxonomy and its out-of-taxonomy clips); "
                    "the head, the detector and the score's calibration never saw it",
        "threshold": round(threshold, 4),
        "held_out": {
            "in_taxonomy_unknown_rate": round(float(np.mean(s_in >= threshold)), 4),
            "out_of_taxonomy_unknown_rate": round(float(np.mean(s_out >= threshold)), 4),
            "n_in_taxonomy": int(len(s_in)),
            "n_out_of_taxonomy": int(len(s_out)),
        },
        "_features": (f_in, f_out),
        "_held_out_scores": s_in,
        "_held_out_outside_scores": s_out,
        "_outside_folds": [plan[k][0] for k in k_out],
    }


def set_shipped_score(head: MusicnnHead, model: FittedHead, corpus: Corpus, config: RecipeConfig,
                      ood_fit: Mapping[str, Any], log: Callable[[str], None]) -> None:
    """Write the chosen out-of-taxonomy score (:func:`evaluate_ood`'s ``chosen``) into the shipped
    ``head``: its calibration fitted on every fold's held-out features and, where the score reads
    the detector, the detector fitted on every clip, folded into the head's standardised inputs."""
    method = ood_fit["chosen"]
    f_in, f_out = ood_fit["_features"]
    cols = list(METHOD_COLUMNS[method])
    w, b = fit_platt(np.concatenate([f_in, f_out])[:, cols], np.r_[np.zeros(len(f_in)), np.ones(len(f_out))],
                     config.seed)
    weights = dict(zip(cols, w))
    energy_weight = -weights.get(1, 0.0)  # feature 1 is minus the mean energy
    detector_weight = weights.get(2, 0.0)
    ood_weight = torch.zeros(len(model.cols), dtype=torch.float64)
    bias = b
    if detector_weight:
        cols = detector_columns(config, model.cols)
        detector = fit_detector(corpus, corpus.inside, corpus.outside, cols, c=config.ood_c, seed=config.seed)
        lin = detector.head.net[-1]
        w_diff = torch.zeros(len(model.cols), dtype=torch.float64)
        position = {int(c): k for k, c in enumerate(model.cols)}
        at = torch.tensor([position[int(c)] for c in cols])
        w_diff[at] = (lin.weight[1] - lin.weight[0]).detach().double() / detector.head.scale.double()
        detector_mean = head.mean.double().clone()
        detector_mean[at] = detector.head.mean.double()
        b_diff = float((lin.bias[1] - lin.bias[0]).detach())
        # the detector's logit on the head's standardised inputs z: w_diff . (z * scale + mean - mean_d) + b_diff
        ood_weight = detector_weight * w_diff * head.scale.double()
        bias += detector_weight * (b_diff + float(w_diff @ (head.mean.double() - detector_mean)))
    with torch.no_grad():
        head.ood_weight.copy_(ood_weight.float())
        head.ood_energy.fill_(energy_weight)
        head.ood_bias.fill_(bias)
    log(f"ood score: {method}, energy weight {energy_weight:.3f}, detector weight {detector_weight:.3f}, bias {bias:.3f}")
