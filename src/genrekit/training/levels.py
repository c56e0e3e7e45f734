"""Choose the rules of the uncertainty levels (``confident`` / ``mixed`` / ``unknown``) from
held-out predictions, and measure what each level is worth on sources the rules never saw.

Every input here is already held out: track probabilities of in-taxonomy clips scored by a
model that did not see their source, and out-of-taxonomy scores of clips whose source (in or
out of the taxonomy) the score never saw (:func:`genrekit.training.ood.evaluate_ood`).
The rules are then chosen on some source folds and measured on the one left out, in turn
(nested leave-one-source-out), so the rates the card states are rates on unseen sources.

The rules (applied by :func:`genrekit.predict.uncertainty.assess_uncertainty`):

* ``unknown``: ``ood_score >= ood_threshold``, the in-taxonomy quantile whose rate is the largest
  of :data:`QUANTILE_RATES` that keeps the *nested* false-unknown rate (on sources the threshold
  never saw) within the target: score scales shift from source to source, so the quantile
  chosen on the pooled tracks is not what an unseen source gets;
* ``confident``: top probability ``>= mixed_top_score`` and a lead over the runner-up
  ``>= mixed_margin``, chosen as the pair with the largest coverage whose accuracy reaches
  ``confident_target``;
* ``mixed`` otherwise, naming the top genres until their probabilities add up to
  ``mixed_cover`` (two at least, three at most), the smallest cover whose "right genre among
  those named" rate reaches ``mixed_target``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genrekit.predict.uncertainty import MAX_NAMED

TOP_SCORE_GRID = tuple(round(x, 2) for x in np.arange(0.30, 0.96, 0.05))  # probability
MARGIN_GRID = tuple(round(x, 2) for x in np.arange(0.0, 0.51, 0.05))  # probability
COVER_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.01)  # 1.01: always three genres
QUANTILE_RATES = (0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)  # in-taxonomy share above the threshold


@dataclass(frozen=True)
class LevelRules:
    """Thresholds of the three levels (probabilities in [0, 1])."""

    mixed_top_score: float
    mixed_margin: float
    mixed_cover: float
    ood_threshold: float | None

    def to_dict(self) -> dict[str, float]:
        out = {"mixed_top_score": self.mixed_top_score, "mixed_margin": self.mixed_margin,
               "mixed_cover": self.mixed_cover}
        if self.ood_threshold is not None:
            out["ood_threshold"] = round(self.ood_threshold, 4)
        return out


def n_named(sorted_probs: np.ndarray, cover: float) -> np.ndarray:
    """How many genres a mixed answer names: the top ones until their sum reaches ``cover``,
    two at least, :data:`MAX_NAMED` at most.

    Parameters
    ----------
    sorted_probs : np.ndarray [shape=(n_tracks, n_labels)]
        Each row sorted in decreasing order.
    """
    cumulative = np.cumsum(sorted_probs[:, :MAX_NAMED], axis=1)
    reached = cumulative >= cover
    first = np.where(reached.any(1), reached.argmax(1) + 1, MAX_NAMED)
    return np.clip(first, 2, min(MAX_NAMED, sorted_probs.shape[1]))


def _rank_of_truth(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """0 where the true label is the top genre, 1 for the runner-up, ..."""
    order = np.argsort(-proba, axis=1, kind="stable")
    return np.argmax(order == y[:, None], axis=1)


def _confident_mask(sorted_probs: np.ndarray, top: float, margin: float) -> np.ndarray:
    return (sorted_probs[:, 0] >= top) & (sorted_probs[:, 0] - sorted_probs[:, 1] >= margin)


def choose_rules(proba: np.ndarray, y: np.ndarray, ood_in: np.ndarray | None, *, false_unknown_rate: float,
                 confident_target: float, mixed_target: float) -> LevelRules:
    """The rules, chosen on held-out in-taxonomy tracks.

    Parameters
    ----------
    proba : np.ndarray [shape=(n_tracks, n_labels)]
        Held-out track probabilities.
    y : np.ndarray [shape=(n_tracks,)]
        True label indices.
    ood_in : np.ndarray [shape=(n_tracks,)] or None
        Held-out out-of-taxonomy scores of the same tracks.
    false_unknown_rate : float in (0, 1)
        Share of in-taxonomy tracks allowed to come out ``unknown``.
    confident_target, mixed_target : float in (0, 1)
        Accuracy of ``confident``; share of ``mixed`` answers naming the right genre.
    """
    threshold = None if ood_in is None else float(np.quantile(ood_in, 1.0 - false_unknown_rate))
    kept = np.ones(len(y), bool) if threshold is None else ood_in < threshold
    sorted_probs = -np.sort(-proba[kept], axis=1)
    correct = proba[kept].argmax(1) == y[kept]
    best: tuple[float, float, float, float] | None = None  # (coverage, accuracy, top, margin)
    fallback: tuple[float, float, float, float] | None = None
    for top in TOP_SCORE_GRID:
        for margin in MARGIN_GRID:
            mask = _confident_mask(sorted_probs, top, margin)
            if mask.sum() < 5:
                continue
            coverage, accuracy = float(mask.mean()), float(correct[mask].mean())
            if accuracy >= confident_target and (best is None or coverage > best[0]):
                best = (coverage, accuracy, top, margin)
            if fallback is None or accuracy > fallback[1]:
                fallback = (coverage, accuracy, top, margin)
    _, _, top, margin = best or fallback or (0.0, 0.0, TOP_SCORE_GRID[-1], MARGIN_GRID[-1])
    mixed = ~_confident_mask(sorted_probs, top, margin)
    rank = _rank_of_truth(proba[kept], y[kept])
    cover = COVER_GRID[-1]
    for candidate in COVER_GRID:
        if mixed.any() and float(np.mean(rank[mixed] < n_named(sorted_probs[mixed], candidate))) >= mixed_target:
            cover = candidate
            break
    return LevelRules(mixed_top_score=top, mixed_margin=margin, mixed_cover=cover, ood_threshold=threshold)


def apply_rules(proba: np.ndarray, ood: np.ndarray | None, rules: LevelRules) -> tuple[np.ndarray, np.ndarray]:
    """(level per track, number of genres named per track) under ``rules``."""
    sorted_probs = -np.sort(-proba, axis=1)
    levels = np.where(_confident_mask(sorted_probs, rules.mixed_top_score, rules.mixed_margin), "confident", "mixed")
    named = np.where(levels == "confident", 1, n_named(sorted_probs, rules.mixed_cover))
    if ood is not None and rules.ood_threshold is not None:
        unknown = ood >= rules.ood_threshold
        levels = np.where(unknown, "unknown", levels)
        named = np.where(unknown, 0, named)
    return levels.astype(object), named


def in_words(rate: float) -> str:
    """0.87 -> "about 9 times in 10"."""
    tenths = int(round(rate * 10))
    if tenths >= 10:
        return "almost always"
    if tenths <= 0:
        return "almost never"
    return f"about {tenths} times in 10"


def share_in_words(rate: float) -> str:
    """A share of songs in words: 0.15 -> "about 1 in 7", 0.012 -> "about 1 in 100"."""
    if rate <= 0.0:
        return "none of the"
    if rate >= 0.95:
        return "almost all"
    if rate >= 0.25:
        return f"about {int(round(rate * 10))} in 10"
    return f"about 1 in {int(round(1.0 / rate))}"


def nested_unknown(ood_in: np.ndarray, fold_in: np.ndarray, ood_out: np.ndarray, fold_out: np.ndarray,
                   rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(in-taxonomy tracks, out-of-taxonomy clips) called ``unknown`` when each source's threshold
    is the ``1 - rate`` quantile of the in-taxonomy scores of the other sources."""
    false_alarm = np.zeros(len(ood_in), bool)
    caught = np.zeros(len(ood_out), bool)
    for name in dict.fromkeys(list(fold_in) + list(fold_out)):
        threshold = float(np.quantile(ood_in[fold_in != name], 1.0 - rate))
        false_alarm[fold_in == name] = ood_in[fold_in == name] >= threshold
        caught[fold_out == name] = ood_out[fold_out == name] >= threshold
    return false_alarm, caught


def unknown_curve(ood_in: np.ndarray, fold_in: np.ndarray, ood_out: np.ndarray,
                  fold_out: np.ndarray) -> list[dict[str, float]]:
    """The trade-off on unseen sources, one row per quantile rate of :data:`QUANTILE_RATES`."""
    rows = []
    for rate in QUANTILE_RATES:
        false_alarm, caught = nested_unknown(ood_in, fold_in, ood_out, fold_out, rate)
        worst = max(float(false_alarm[fold_in == n].mean()) for n in dict.fromkeys(fold_in))
        rows.append({"quantile_rate": rate, "in_taxonomy_unknown": round(float(false_alarm.mean()), 4),
                     "worst_source_in_taxonomy_unknown": round(worst, 4),
                     "out_of_taxonomy_caught": round(float(caught.mean()), 4) if len(caught) else None})
    return rows


def best_at_target(curve: Sequence[Mapping[str, Any]], false_unknown_rate: float) -> Mapping[str, Any] | None:
    """The row of :func:`unknown_curve` that catches the most out-of-taxonomy music while its
    unseen-source in-taxonomy unknown rate stays within ``false_unknown_rate`` (ties: the lower
    false-unknown rate); ``None`` where no row does."""
    within = [row for row in curve if row["in_taxonomy_unknown"] <= false_unknown_rate]
    if not within:
        return None
    return max(within, key=lambda row: ((row["out_of_taxonomy_caught"] or 0.0), -row["in_taxonomy_unknown"]))


def measure_levels(
    proba: np.ndarray,
    y: np.ndarray,
    fold_in: Sequence[str],
    ood_in: np.ndarray | None,
    ood_out: np.ndarray | None,
    fold_out: Sequence[str],
    *,
    curve: Sequence[Mapping[str, Any]] | None = None,
    false_unknown_rate: float,
    confident_target: float,
    mixed_target: float,
    seed: int,
    n_bootstrap: int = 1000,
) -> tuple[LevelRules, dict[str, Any]]:
    """The rules chosen on every held-out track, and what each level is worth on unseen sources.

    Each in-taxonomy fold is scored with rules chosen on the other folds; each out-of-taxonomy
    source with a threshold chosen on the in-taxonomy folds of other sources.

    ``curve`` is :func:`unknown_curve` of these scores where the caller has it already (the
    recipe computes it once, in :func:`genrekit.training.ood.evaluate_ood`); None computes it.

    Returns
    -------
    (LevelRules, dict)
        The rules to ship, and ``{"confident": {...}, "mixed": {...}, "unknown": {...},
        "per_source": {...}, "protocol": str}``: rates with 95 % bootstrap intervals,
        coverage (share of in-taxonomy tracks at that level) and a sentence for people.
    """
    from genrekit.evaluation.metrics import rate_with_ci

    fold_in, fold_out = np.asarray(fold_in, dtype=object), np.asarray(fold_out, dtype=object)
    scored_outside = ood_in is not None and ood_out is not None and len(ood_out) > 0
    quantile_rate = false_unknown_rate
    if not scored_outside:
        curve = []
    else:
        if curve is None:
            curve = unknown_curve(ood_in, fold_in, ood_out, fold_out)
        best = best_at_target(curve, false_unknown_rate)
        quantile_rate = best["quantile_rate"] if best else QUANTILE_RATES[0]
    kwargs = {"false_unknown_rate": quantile_rate, "confident_target": confident_target,
              "mixed_target": mixed_target}
    levels = np.empty(len(y), dtype=object)
    named = np.zeros(len(y), dtype=np.int64)
    for name in dict.fromkeys(fold_in):
        held, train = fold_in == name, fold_in != name
        rules = choose_rules(proba[train], y[train], None if ood_in is None else ood_in[train], **kwargs)
        levels[held], named[held] = apply_rules(proba[held], None if ood_in is None else ood_in[held], rules)
    caught = np.zeros(0, bool)
    caught_source = np.zeros(0, dtype=object)
    if scored_outside:
        _, caught = nested_unknown(ood_in, fold_in, ood_out, fold_out, quantile_rate)
        caught_source = fold_out
    rank = _rank_of_truth(proba, y)
    right = rank < named

    def rate(mask: np.ndarray, hits: np.ndarray) -> dict[str, Any]:
        return rate_with_ci(hits, mask, seed=seed, n_bootstrap=n_bootstrap)

    everything = np.ones(len(y), bool)
    confident = {**rate(levels == "confident", right), "coverage": round(float(np.mean(levels == "confident")), 4)}
    mixed = {**rate(levels == "mixed", right), "coverage": round(float(np.mean(levels == "mixed")), 4),
             "named_mean": round(float(named[levels == "mixed"].mean()), 2) if np.any(levels == "mixed") else None}
    unknown: dict[str, Any] = {"coverage": round(float(np.mean(levels == "unknown")), 4),
                               "in_taxonomy_rate": rate(everything, levels == "unknown")}
    if caught.size:
        unknown.update(rate(np.ones(len(caught), bool), caught))
    for entry, what in ((confident, "right"), (mixed, "the right genre is among those named")):
        if entry["rate"] is not None:
            entry["statement"] = f"{what} {in_words(entry['rate'])} on music from sources it never saw"
    if unknown.get("rate") is not None:
        unknown["statement"] = (f"catches {share_in_words(unknown['rate'])} songs outside its 10 genres and says it "
                                f"of {share_in_words(unknown['in_taxonomy_rate']['rate'])} songs inside them, on "
                                "sources it never saw")
    per_source: dict[str, Any] = {}
    for name in dict.fromkeys(fold_in):
        held = fold_in == name
        per_source[name] = {
            "n": int(held.sum()),
            "confident": {**rate(held & (levels == "confident"), right),
                          "coverage": round(float(np.mean(levels[held] == "confident")), 4)},
            "mixed": {**rate(held & (levels == "mixed"), right),
                      "coverage": round(float(np.mean(levels[held] == "mixed")), 4)},
            "unknown_in_taxonomy": round(float(np.mean(levels[held] == "unknown")), 4),
        }
    for name in dict.fromkeys(caught_source):
        per_source.setdefault(str(name), {})["out_of_taxonomy_caught"] = rate(caught_source == name, caught)
    final = choose_rules(proba, y, ood_in, **kwargs)
    return final, {
        "protocol": "nested leave-one-source-out: each source's tracks are judged by rules chosen on the other "
                    "sources' held-out tracks; out-of-taxonomy clips by a score and threshold that never saw "
                    "their source",
        "targets": {"confident": confident_target, "mixed": mixed_target,
                    "unknown_in_taxonomy_at_most": false_unknown_rate},
        "unknown_curve": curve,
        "unknown_quantile_rate": quantile_rate,
        "confident": confident,
        "mixed": mixed,
        "unknown": unknown,
        "per_source": per_source,
    }


def card_levels(measured: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The part of :func:`measure_levels`' figures that predictions carry (``Uncertainty.reliability``)."""
    out = {}
    for level in ("confident", "mixed", "unknown"):
        entry = measured.get(level) or {}
        if entry.get("rate") is None:
            continue
        low, high = entry["ci95"]
        out[level] = {"rate": entry["rate"], "low": low, "high": high, "coverage": entry["coverage"],
                      "statement": entry["statement"]}
    return out
