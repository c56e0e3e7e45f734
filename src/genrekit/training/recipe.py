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

The parts: the config (:mod:`~genrekit.training.recipe_config`), the corpus and its folds
(:mod:`~genrekit.training.corpus`), the candidates' fits, cross-validation and selection
(:mod:`~genrekit.training.candidates`), the out-of-taxonomy score (:mod:`~genrekit.training.ood`),
the uncertainty levels (:mod:`~genrekit.training.levels`) and the card's text
(:mod:`~genrekit.training.card_text`). This module runs them in order: corpus -> cross-validate
-> select -> fit -> card.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genrekit.bundle import ModelCard, save_bundle
from genrekit.errors import InvalidParameterError
from genrekit.evaluation.calibration import crossfit_temperatures, fit_temperature
from genrekit.evaluation.metrics import track_figures
from genrekit.models import heads
from genrekit.numeric import softmax
from genrekit.training.candidates import clear_fit_caches, cross_validate, fit_candidate_cached, select
from genrekit.training.card_text import card_hash, recipe_card, training_section, value_counts
from genrekit.training.corpus import BACKBONES, GENRES, GTZAN_VALID, Corpus, clip_windows, product_cover
from genrekit.training.heads_fit import FittedHead
from genrekit.training.levels import measure_levels
from genrekit.training.ood import evaluate_ood, set_shipped_score
from genrekit.training.recipe_config import Candidate, RecipeConfig

N_BOOTSTRAP = 1000


@dataclass
class RecipeResult:
    """What :func:`run_recipe` made: the bundle folder, its card, the card's rebuild hash
    (:func:`~genrekit.training.card_text.card_hash`) and the run's wall time in seconds."""

    bundle_dir: Path
    card: ModelCard
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
    clear_fit_caches()
    torch.manual_seed(config.seed)
    clips = list_corpus(data_root, min_source_clips=config.min_source_clips)
    log(f"{len(clips)} clips: " + ", ".join(f"{s} {n}" for s, n in value_counts(c.source for c in clips).items()))
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

    metrics, proba_all, y_all = held_out_metrics(config, folds, fold_logits, fold_y, crossfit_t)
    held_out = metrics["held_out"]
    if ood_fit is not None:
        metrics["out_of_taxonomy"] = {k: v for k, v in ood_fit.items() if not k.startswith("_")}
    fold_names = np.concatenate([np.full(len(idx), name, dtype=object) for name, idx in folds])
    thresholded = ood_fit is not None and ood_fit["thresholded"]
    rules, levels = measure_levels(
        proba_all, y_all, fold_names,
        ood_fit["_held_out_scores"] if thresholded else None,
        ood_fit["_held_out_outside_scores"] if thresholded else None,
        ood_fit["_outside_folds"] if thresholded else [],
        curve=ood_fit["methods"][ood_fit["chosen"]]["unknown_curve"] if thresholded else None,
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
    check_reproduces(classifier, fitted, corpus, config, temperature, log)
    training = training_section(config, chosen, corpus.clips, temperature=temperature, search=table,
                                config_file=config_file)
    card = recipe_card(classifier, config, training=training, metrics=metrics, rules=rules, levels=levels,
                       ood_method=ood_fit["chosen"] if ood_fit is not None else None)
    tensors = classifier.bundle_tensors()
    out = save_bundle(out_dir, card, tensors)
    saved = json.loads((Path(out) / "card.json").read_text(encoding="utf-8"))
    digest = card_hash(saved, tensors)
    log(f"saved {out}; card hash {digest[:16]}")
    return RecipeResult(Path(out), card, digest, time.perf_counter() - started)


def held_out_metrics(config: RecipeConfig, folds: Sequence[tuple[str, Sequence[int]]],
                     fold_logits: Mapping[str, np.ndarray], fold_y: Mapping[str, np.ndarray],
                     temperatures: Mapping[str, float]) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The card's held-out figures of the chosen candidate, per fold and pooled, each fold's
    track logits calibrated by its cross-fitted temperature.

    Returns
    -------
    (dict, np.ndarray [shape=(n_tracks, n_labels)], np.ndarray [shape=(n_tracks,)])
        The figures, and the pooled held-out probabilities and labels in fold order.
    """
    held_out: dict[str, Any] = {}
    pooled_proba, pooled_y = [], []
    for name, _ in folds:
        proba = softmax(fold_logits[name] / temperatures[name])
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
    return metrics, proba_all, y_all


def build_classifier(chosen: Candidate, corpus: Corpus, config: RecipeConfig, temperature: float,
                     ood_fit: Mapping[str, Any] | None,
                     log: Callable[[str], None]) -> tuple[heads.MusicnnHeadClassifier, FittedHead]:
    """The shipped :class:`MusicnnHeadClassifier`: the chosen head on every in-taxonomy clip, and
    the out-of-taxonomy score fitted on every clip, calibrated on the held-out features; and the
    chosen head as fitted."""
    from genrekit.models.musicnn import load_pretrained

    model = fit_candidate_cached(chosen, corpus, corpus.inside, config.seed, config.candidates)
    backbones, embeddings = product_cover(model.cols)
    has_ood = ood_fit is not None
    head = heads.MusicnnHead(len(model.cols), len(GENRES), _hidden(model), 0.0, ood=has_ood)
    state = {k: v for k, v in model.head.state_dict().items()}
    head.load_state_dict(state, strict=False)
    head.set_temperature(temperature)
    if ood_fit is not None:
        set_shipped_score(head, model, corpus, config, ood_fit, log)
    tag_backbones = tuple(b for b in BACKBONES if b not in backbones)
    head_config = heads.MusicnnHeadConfig(backbones=backbones, embeddings=embeddings, hidden_units=_hidden(model),
                                          tag_backbones=tag_backbones, ood=has_ood)
    models = {name: load_pretrained(name) for name in head_config.all_backbones}
    return heads.MusicnnHeadClassifier(list(GENRES), head_config, models, head), model


def _hidden(model: FittedHead) -> tuple[int, ...]:
    import torch

    return tuple(layer.out_features for layer in model.head.net[:-1] if isinstance(layer, torch.nn.Linear))


def check_reproduces(classifier: heads.MusicnnHeadClassifier, fitted: FittedHead, corpus: Corpus, config: RecipeConfig,
                     temperature: float, log: Callable[[str], None]) -> None:
    """Raise :class:`InvalidParameterError` unless the bundled model, run on one clip's audio,
    reproduces the probabilities of the cached embeddings (max difference 1e-3)."""
    from genrekit.audio import load_audio

    check = corpus.inside[0]
    y16, _ = load_audio(corpus.clips[check].path, sr=heads.SAMPLE_RATE)
    _, windows = clip_windows(y16, max_windows=config.max_windows)
    expected = softmax(fitted.logits(corpus.embeddings[check].inference) / temperature)
    max_diff = float(np.abs(classifier.predict_proba_windows(windows) - expected).max())
    log(f"bundle vs cached embeddings on {corpus.clips[check].path.name}: max |dp| {max_diff:.1e}")
    if max_diff > 1e-3:
        raise InvalidParameterError(f"the built model does not reproduce the training features (max |dp| {max_diff})")
