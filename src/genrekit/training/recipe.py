"""The default model's recipe: grouped cross-validation over candidate heads, the
out-of-taxonomy score, and the shipped bundle (``genrekit train --config configs/default.toml``).

Protocol (every figure in the card comes from it):

* **Folds by source.** One fold holds out GTZAN's valid split (artist-disjoint from its train
  split); each other fold holds out one in-taxonomy source of ``extra-pool`` (sources smaller
  than ``min_source_clips`` pooled). A fold trains on every other in-taxonomy clip. So each
  figure is on music from a source, and artists, the head never saw.
* **Scored as inference runs.** A held-out clip is scored from the windows
  ``Classifier.predict`` reads (``max_windows`` spread windows, :func:`corpus.clip_windows`),
  probabilities aggregated as the card says (``log_mean``).
* **Selection.** Every candidate of the config is cross-validated; the one with the best
  mean macro-recall over the held-out folds is shipped (ties: pooled NLL). The search table is
  in the card; the chosen candidate's figures carry a selection optimism the card states.
* **Temperature.** One temperature scaling (:func:`genrekit.evaluation.calibration.fit_temperature`)
  on track logits: cross-fitted across folds for the reported calibration, on all folds'
  held-out logits for the shipped head.
* **Out-of-taxonomy score.** Out-of-taxonomy clips are split into folds by artist, one per
  source fold; a fold's detector and combination never see its held-out clips of either kind.
  The shipped score is the best of the candidate scores by pooled held-out AUROC.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.errors import InvalidParameterError
from genrekit.evaluation.calibration import crossfit_temperatures, fit_temperature
from genrekit.evaluation.metrics import auroc, macro_recall, track_figures
from genrekit.numeric import logsumexp, sigmoid, softmax
from genrekit.training.corpus import BACKBONES, GENRES, Clip, ClipEmbeddings, feature_columns, product_cover
from genrekit.training.heads_fit import (
    HEAD_KINDS,
    FittedHead,
    class_weights,
    fit_adam,
    fit_logreg,
    merge_linear,
    principal_basis,
)
from genrekit.training.levels import best_at_target, card_levels, measure_levels, unknown_curve

FEATURE_SETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "MSD:pen": (("MSD_musicnn",), ("penultimate",)),
    "MSD:pen+pools": (("MSD_musicnn",), ("penultimate", "mean_pool", "max_pool")),
    "MSD:tags": (("MSD_musicnn",), ("taggram",)),
    "MSD+MTT:tags": (BACKBONES, ("taggram",)),
    "MTT:pen": (("MTT_musicnn",), ("penultimate",)),
    "MTT:pen+pools": (("MTT_musicnn",), ("penultimate", "mean_pool", "max_pool")),
    "MSD+MTT:pen": (BACKBONES, ("penultimate",)),
    "MSD+MTT:pen+tags": (BACKBONES, ("penultimate", "taggram")),
    "MSD+MTT:pen+pools": (BACKBONES, ("penultimate", "mean_pool", "max_pool")),
    "MSD+MTT:all": (BACKBONES, ("penultimate", "mean_pool", "max_pool", "taggram")),
}
OOD_METHODS = ("max_prob", "energy", "detector", "detector+energy")
SHIPPABLE_OOD = ("energy", "detector", "detector+energy")
N_BOOTSTRAP = 1000
GTZAN_VALID = "gtzan (valid split)"


@dataclass(frozen=True)
class Candidate:
    """One recipe to cross-validate (a ``[[candidates]]`` table of the config)."""

    name: str
    features: str = "MSD:pen+pools"
    head: str = "logreg"
    c: float = 1e-3
    hidden_units: tuple[int, ...] = ()
    dropout: float = 0.3
    weight_decay: float = 1e-2
    epochs: int = 30
    balance: bool = True
    level: str = "window"
    train_windows: str = "inference"
    augment: str = ""
    augment_copies: int = 1
    members: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_units", tuple(self.hidden_units))
        object.__setattr__(self, "members", tuple(self.members))
        if not self.members and self.features not in FEATURE_SETS:
            raise InvalidParameterError(f"candidate {self.name}: unknown features {self.features!r}; one of {list(FEATURE_SETS)}")
        if self.head not in HEAD_KINDS:
            raise InvalidParameterError(f"candidate {self.name}: head must be one of {HEAD_KINDS}, got {self.head!r}")
        if self.level not in ("window", "track"):
            raise InvalidParameterError(f"candidate {self.name}: level must be 'window' or 'track'")
        if self.train_windows not in ("inference", "all"):
            raise InvalidParameterError(f"candidate {self.name}: train_windows must be 'inference' or 'all'")
        if self.augment:
            from genrekit.training.degrade import POLICIES

            if self.augment not in POLICIES:
                raise InvalidParameterError(f"candidate {self.name}: augment must be one of {POLICIES}, got {self.augment!r}")
            if self.augment_copies < 1:
                raise InvalidParameterError(f"candidate {self.name}: augment_copies must be >= 1")

    @property
    def degradation(self) -> tuple[str, int] | None:
        """(policy, copies) of the degraded training copies, or None."""
        return (self.augment, self.augment_copies) if self.augment else None


@dataclass(frozen=True)
class RecipeConfig:
    """``configs/default.toml``: what the default model is made of and how it is chosen."""

    name: str = "genrekit-gtzan-musicnn"
    version: str = "2.0.0"
    seed: int = 0
    max_windows: int = 4
    aggregation: str = "log_mean"
    min_source_clips: int = 20
    candidates: tuple[Candidate, ...] = ()
    ood_methods: tuple[str, ...] = OOD_METHODS
    ood_c: float = 1e-3
    ood_features: str = ""
    ood_false_unknown_rate: float = 0.1
    confident_target: float = 0.9
    mixed_target: float = 0.9
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RecipeConfig":
        data = dict(data)
        data.pop("kind", None)
        candidates = tuple(Candidate(**c) for c in data.pop("candidates", []))
        uncertainty = dict(data.pop("uncertainty", {}))
        known = {f.name for f in dataclasses.fields(cls)} - {"candidates", "extra"}
        unknown = sorted(set(data) - known - {"data", "out", "embedding"}) + sorted(
            set(uncertainty) - {"ood_methods", "ood_c", "ood_features", "ood_false_unknown_rate", "confident_target",
                               "mixed_target"}
        )
        if unknown:
            raise InvalidParameterError(f"unknown recipe keys: {unknown}")
        if not candidates:
            raise InvalidParameterError("the recipe lists no [[candidates]]")
        names = [c.name for c in candidates]
        if len(set(names)) != len(names):
            raise InvalidParameterError("candidate names must be distinct")
        for c in candidates:
            for member in c.members:
                if member not in names[: names.index(c.name)]:
                    raise InvalidParameterError(f"ensemble {c.name}: member {member!r} must be listed before it")
        methods = tuple(uncertainty.pop("ood_methods", OOD_METHODS))
        if set(methods) - set(OOD_METHODS) or not set(methods) & set(SHIPPABLE_OOD):
            raise InvalidParameterError(f"ood_methods must come from {OOD_METHODS}, one of {SHIPPABLE_OOD} included")
        if uncertainty.get("ood_features", "") and uncertainty["ood_features"] not in FEATURE_SETS:
            raise InvalidParameterError(f"ood_features must be one of {list(FEATURE_SETS)}, got {uncertainty['ood_features']!r}")
        extra = {key: data.pop(key) for key in ("data", "out", "embedding") if key in data}
        return cls(candidates=candidates, ood_methods=methods, extra=extra, **data, **uncertainty)


# ---------------------------------------------------------------- folds and fitting


@dataclass
class Corpus:
    """Clips and their embeddings, split into in-taxonomy and out-of-taxonomy."""

    clips: list[Clip]
    embeddings: list[ClipEmbeddings]
    degraded: dict[tuple[str, int], list[list[np.ndarray]]] = field(default_factory=dict)
    """(policy, copies) -> per clip, the inference-window embeddings of each degraded copy
    (:func:`~genrekit.training.corpus.augmented_embeddings`; in-taxonomy clips only)."""

    def __post_init__(self) -> None:
        self.inside = [i for i, c in enumerate(self.clips) if c.in_taxonomy]
        self.outside = [i for i, c in enumerate(self.clips) if not c.in_taxonomy]
        self.y = np.array([GENRES.index(c.label) if c.in_taxonomy else -1 for c in self.clips])

    def folds(self) -> list[tuple[str, list[int]]]:
        """(name, held-out clip indices) of each source fold."""
        folds = []
        gtzan_valid = [i for i in self.inside if self.clips[i].source == "gtzan" and self.clips[i].split == "valid"]
        if gtzan_valid:
            folds.append((GTZAN_VALID, gtzan_valid))
        sources = sorted({self.clips[i].source for i in self.inside} - {"gtzan"})
        for source in sources:
            folds.append((source, [i for i in self.inside if self.clips[i].source == source]))
        return folds

    def training_matrix(self, indices: Sequence[int], level: str, windows: str = "inference",
                        degradation: tuple[str, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, labels): the windows inference reads (``"inference"``) or those and every
        regular window (``"all"``), plus the inference windows of each degraded copy when
        ``degradation`` is given; with ``level="track"``, one mean row per clip and copy."""
        xs, ys = [], []
        for i in indices:
            e = self.embeddings[i]
            sets = [e.inference if windows == "inference" else np.concatenate([e.regular, e.inference])]
            if degradation is not None:
                sets += self.degraded[degradation][i]
            for rows in sets:
                if level == "track":
                    rows = rows.mean(0, keepdims=True)
                xs.append(rows)
                ys.append(np.full(len(rows), self.y[i]))
        return np.concatenate(xs), np.concatenate(ys)

    def track_logits(self, model: FittedHead, indices: Sequence[int]) -> np.ndarray:
        """Mean window logits over each clip's inference windows."""
        return np.stack([model.logits(self.embeddings[i].inference).mean(0) for i in indices])


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


# ---------------------------------------------------------------- out-of-taxonomy score


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


# ---------------------------------------------------------------- the shipped model


def build_classifier(chosen: Candidate, corpus: Corpus, config: RecipeConfig, temperature: float,
                     ood_fit: Mapping[str, Any] | None, log: Callable[[str], None]) -> Any:
    """The shipped :class:`MusicnnHeadClassifier`: the chosen head on every in-taxonomy clip, and
    the out-of-taxonomy score fitted on every clip, calibrated on the held-out features."""
    import torch

    from genrekit.models import heads
    from genrekit.models.musicnn import load_pretrained

    model = fit_candidate_cached(chosen, corpus, corpus.inside, config.seed, config.candidates)
    backbones, embeddings = product_cover(model.cols)
    has_ood = ood_fit is not None
    head = heads.MusicnnHead(len(model.cols), len(GENRES), _hidden(model), 0.0, ood=has_ood)
    state = {k: v for k, v in model.head.state_dict().items()}
    head.load_state_dict(state, strict=False)
    head.set_temperature(temperature)
    if ood_fit is not None:
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
    tag_backbones = tuple(b for b in BACKBONES if b not in backbones)
    head_config = heads.MusicnnHeadConfig(backbones=backbones, embeddings=embeddings, hidden_units=_hidden(model),
                                          tag_backbones=tag_backbones, ood=has_ood)
    models = {name: load_pretrained(name) for name in head_config.all_backbones}
    return heads.MusicnnHeadClassifier(list(GENRES), head_config, models, head), model


def _hidden(model: FittedHead) -> tuple[int, ...]:
    return tuple(layer.out_features for layer in model.head.net[:-1] if isinstance(layer, __import__("torch").nn.Linear))


def card_hash(card_dict: Mapping[str, Any], tensors: Mapping[str, Any]) -> str:
    """SHA-256 of a card without its creation time and file checksums, and of the tensors'
    values (the weights file also stores its creation time): equal for equal rebuilds."""
    digest = hashlib.sha256()
    stable = {k: v for k, v in card_dict.items() if k not in ("created", "sha256")}
    digest.update(json.dumps(stable, sort_keys=True).encode())
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass
class RecipeResult:
    bundle_dir: Path
    card: Any
    card_sha256: str
    seconds: float


def run_recipe(
    config: RecipeConfig,
    data_root: str | Path,
    *,
    out_dir: str | Path,
    cache_dir: str | Path | None = None,
    log: Callable[[str], None] = lambda message: None,
    config_file: str | None = None,
) -> RecipeResult:
    """Cross-validate every candidate, pick one, fit the out-of-taxonomy score, save the bundle.

    Parameters
    ----------
    config : RecipeConfig
    data_root : path
        ``../shared/data`` (see :func:`genrekit.training.corpus.list_corpus`).
    out_dir : path
        Bundle directory (``src/genrekit/bundles/default`` rebuilds the shipped model).
    cache_dir : path or None
        Feature cache (default ``~/.cache/genrekit/features``).
    log : callable
        Progress lines.
    config_file : str or None
        Recorded in the card.
    """
    import torch

    from genrekit.datasets.cache import FeatureCache
    from genrekit.training.corpus import augmented_embeddings, corpus_embeddings, list_corpus

    started = time.perf_counter()
    _FIT_CACHE.clear()
    _BASIS_CACHE.clear()
    torch.manual_seed(config.seed)
    clips = list_corpus(data_root, min_source_clips=config.min_source_clips)
    log(f"{len(clips)} clips: " + ", ".join(f"{s} {n}" for s, n in _counts(c.source for c in clips).items()))
    cache = FeatureCache(cache_dir)
    embeddings = corpus_embeddings(clips, cache=cache, max_windows=config.max_windows, log=log)
    corpus = Corpus(clips, embeddings)
    inside = [clips[i] for i in corpus.inside]
    for degradation in dict.fromkeys(c.degradation for c in config.candidates if c.degradation):
        policy, copies = degradation
        rows = augmented_embeddings(inside, policy=policy, copies=copies, seed=config.seed, cache=cache,
                                    max_windows=config.max_windows, log=log)
        corpus.degraded[degradation] = [[] for _ in clips]
        for i, copy_rows in zip(corpus.inside, rows, strict=True):
            corpus.degraded[degradation][i] = copy_rows
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small fits: one thread is faster than two contended ones
    try:
        return _fit_and_save(config, corpus, out_dir, log, config_file, started)
    finally:
        torch.set_num_threads(threads)


def _fit_and_save(config: RecipeConfig, corpus: Corpus, out_dir: str | Path,
                  log: Callable[[str], None], config_file: str | None, started: float) -> RecipeResult:
    import sklearn
    import torch

    from genrekit.bundle import save_bundle
    from genrekit.models import heads

    clips, embeddings = corpus.clips, corpus.embeddings
    folds = corpus.folds()
    if len(folds) < 2:
        raise InvalidParameterError("grouped cross-validation needs at least two source folds")
    table, logits = cross_validate(config, corpus, log)
    chosen = select(table, config)
    log(f"chosen: {chosen.name}")
    fold_logits = logits[chosen.name]
    fold_y = {name: corpus.y[idx] for name, idx in folds}
    crossfit_t = crossfit_temperatures(fold_logits, fold_y)
    temperature = fit_temperature(np.concatenate(list(fold_logits.values())), np.concatenate(list(fold_y.values())))
    ood_fit = evaluate_ood(config, corpus, chosen, crossfit_t, log) if corpus.outside else None

    held_out: dict[str, Any] = {}
    pooled_proba, pooled_y = [], []
    for name, _ in folds:
        proba = softmax(fold_logits[name] / crossfit_t[name])
        held_out[name] = track_figures(proba, fold_y[name], GENRES, seed=config.seed, n_bootstrap=N_BOOTSTRAP)
        pooled_proba.append(proba)
        pooled_y.append(fold_y[name])
    proba_all, y_all = np.concatenate(pooled_proba), np.concatenate(pooled_y)
    unseen_mask = np.concatenate([np.full(len(idx), name != GTZAN_VALID) for name, idx in folds])
    metrics: dict[str, Any] = {
        "unit": "track, scored as Classifier.predict scores it (spread windows, log-mean aggregation, calibrated)",
        "protocol": "grouped cross-validation: each fold holds out one source (GTZAN valid, or one extra-pool "
        "source) and trains on every other in-taxonomy clip; temperatures cross-fitted across folds",
        "selection_caveat": f"the recipe was chosen among {len(config.candidates)} candidates on these same folds "
        "(best mean macro-recall), so these figures are slightly optimistic for it",
        "held_out": held_out,
        "unseen_sources_pooled": track_figures(proba_all[unseen_mask], y_all[unseen_mask], GENRES, seed=config.seed,
                                               n_bootstrap=N_BOOTSTRAP),
        "all_folds_pooled": track_figures(proba_all, y_all, GENRES, seed=config.seed, n_bootstrap=N_BOOTSTRAP),
    }
    if ood_fit is not None:
        metrics["out_of_taxonomy"] = {k: v for k, v in ood_fit.items() if not k.startswith("_")}
    fold_names = np.concatenate([np.full(len(idx), name, dtype=object) for name, idx in folds])
    thresholded = ood_fit is not None and ood_fit["thresholded"]
    rules, levels = measure_levels(
        proba_all, y_all, fold_names,
        ood_fit["_held_out_scores"] if thresholded else None,
        ood_fit["_held_out_outside_scores"] if thresholded else None,
        ood_fit["_outside_folds"] if thresholded else [],
        false_unknown_rate=config.ood_false_unknown_rate, confident_target=config.confident_target,
        mixed_target=config.mixed_target, seed=config.seed,
    )
    metrics["uncertainty_levels_held_out"] = levels
    log("levels on unseen sources: " + "  ".join(
        f"{k} {levels[k].get('rate')} (coverage {levels[k].get('coverage')})" for k in ("confident", "mixed", "unknown"))
        + f"  rules {rules.to_dict()}")
    log("held out: " + "  ".join(f"{k}: acc {v['accuracy']['value']:.3f} macro-recall {v['macro_recall']['value']:.3f}"
                                 for k, v in held_out.items()))

    classifier, fitted = build_classifier(chosen, corpus, config, temperature, ood_fit, log)
    # consistency: the bundled model reproduces the cached-embedding logits on a clip's windows
    check = corpus.inside[0]
    from genrekit.audio import load_audio
    from genrekit.training.corpus import clip_windows

    y16, _ = load_audio(clips[check].path, sr=heads.SAMPLE_RATE)
    _, windows = clip_windows(y16, max_windows=config.max_windows)
    expected = softmax(fitted.logits(embeddings[check].inference) / temperature)
    max_diff = float(np.abs(classifier.predict_proba_windows(windows) - expected).max())
    log(f"bundle vs cached embeddings on {clips[check].path.name}: max |dp| {max_diff:.1e}")
    if max_diff > 1e-3:
        raise InvalidParameterError(f"the built model does not reproduce the training features (max |dp| {max_diff})")

    training = {
        "recipe": dataclasses.asdict(chosen),
        "built_by": "genrekit train --config " + (config_file or "configs/default.toml"),
        "seed": config.seed,
        "data": {  # every part was used for training (genrekit evaluate warns on them)
            "gtzan-dev/train+valid": _counts(c.label for c in clips if c.source == "gtzan"),
            "extra-pool": _counts(c.label for c in clips if c.in_taxonomy and c.source != "gtzan"),
            "out-of-taxonomy": _counts(c.label for c in clips if not c.in_taxonomy),
        },
        "sources": _counts(c.source for c in clips if c.in_taxonomy),
        "windows": f"the {config.max_windows} windows predict reads per clip (genrekit.predict.spread_starts; "
        "every window of shorter clips, genrekit.predict.slice_windows) for scoring, and for training unless the "
        "recipe says train_windows='all' (every regular window as well)",
        "temperature": round(temperature, 4),
        "search": table,
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
                     "scikit-learn": sklearn.__version__},
    }
    card = heads.musicnn_head_card(classifier, name=config.name, version=config.version, training=training,
                                   metrics=metrics, limitations=list(config.extra.get("limitations", LIMITATIONS)))
    uncertainty: dict[str, Any] = {**rules.to_dict(), "levels": card_levels(levels)}
    if ood_fit is not None:
        uncertainty["ood_method"] = ood_fit["chosen"]
    provenance = {**card.provenance, **PROVENANCE}
    embedding = {"embedding": dict(config.extra["embedding"])} if "embedding" in config.extra else {}
    card = dataclasses.replace(card, provenance=provenance, config={
        **card.config, "aggregation": config.aggregation, "max_windows": config.max_windows, "uncertainty": uncertainty,
        **embedding})
    tensors = classifier.bundle_tensors()
    out = save_bundle(out_dir, card, tensors)
    saved = json.loads((Path(out) / "card.json").read_text(encoding="utf-8"))
    digest = card_hash(saved, tensors)
    log(f"saved {out}; card hash {digest[:16]}")
    return RecipeResult(Path(out), card, digest, time.perf_counter() - started)


def _counts(values: Any) -> dict[str, int]:
    from collections import Counter

    return dict(sorted(Counter(values).items()))


LIMITATIONS = (
    "Only GTZAN's 10 genres. Music outside them gets an out-of-taxonomy score; above the card's threshold the "
    "answer is 'unknown' (none of these), but the score was learned from 128 clips of two sources and, on a "
    "source it never saw, catches only a small share of outside music (the card's levels give the figures).",
    "Trained on little data: 161 GTZAN clips and 391 clips from other sources, most of them from two emotion "
    "datasets (Emotify: classical/pop/rock; 4Q AllMusic previews: blues/country/hiphop/jazz/reggae). Disco and "
    "metal have no or almost no non-GTZAN examples.",
    "GTZAN has known faults (Sturm 2013): repeated excerpts, mislabelings, many tracks per artist; the fault-"
    "filtered split is used, its biases (1990s-2000s, US-centric) remain.",
    "A song is judged from 4 windows of 3 s spread over it by default; `genrekit classify --full` uses every window.",
    "The 'may not be music' check is a heuristic (noise, steady tones, speech with pauses).",
)
PROVENANCE = {
    "backbone_paper": "J. Pons and X. Serra, 'musicnn: pre-trained convolutional neural networks for music audio "
    "tagging', ISMIR 2019 late-breaking/demo",
    "backbone_source": "musicnn 0.1.0 wheel (PyPI), TensorFlow checkpoints",
    "backbone_licence": "ISC (see genrekit/pretrained/README.md for the licence text)",
    "converter": "scripts/convert_musicnn.py (genrekit's TensorFlow-checkpoint reader, no TensorFlow)",
    "head": "trained by genrekit: genrekit train --config configs/default.toml (genrekit.training.recipe)",
    "data_licences": "GTZAN (research use); extra-pool and out-of-taxonomy clips carry their own notes in their "
    "manifest.csv",
}
