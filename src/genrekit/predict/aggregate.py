"""Window scores -> track scores -> :class:`Prediction`: the aggregation seam of
:class:`~genrekit.predict.Classifier`.

:class:`WindowResults` gathers what the windows of one input say (their spans, levels, music
evidence and model outputs), batch by batch; :func:`song_answer` turns them into the song's
prediction: aggregated genre probabilities, silence and music checks, uncertainty, tags,
timeline and window shares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from genrekit.audio.windows import _Window
from genrekit.errors import InvalidParameterError
from genrekit.predict.checks import WARNING_NOT_MUSIC, WARNING_SHORT, WARNING_SILENT, is_music, music_evidence, rms_dbfs
from genrekit.predict.embedding import as_json_vector, as_json_vectors, track_embedding
from genrekit.predict.inference import ModelOutputs
from genrekit.predict.schema import GenreScore, ModelInfo, Prediction, Segment, TagGroup, TagScore
from genrekit.predict.tag_groups import group_tags
from genrekit.predict.uncertainty import assess_uncertainty

AGGREGATIONS = ("mean", "log_mean")

_LOG_FLOOR = 1e-7  # probability floor before taking logs


def aggregate_probabilities(
    probs: np.ndarray, *, weights: np.ndarray | None = None, method: str = "mean"
) -> np.ndarray:
    """Combine window probabilities into one track-level distribution.

    Parameters
    ----------
    probs : np.ndarray [shape=(n_windows, n_labels)]
        Per-window class probabilities (rows sum to 1).
    weights : np.ndarray [shape=(n_windows,)] or None
        Non-negative window weights; ``None`` weighs every window equally.
    method : {"mean", "log_mean"}
        ``"mean"``: weighted arithmetic mean of the probabilities. ``"log_mean"``: weighted
        mean of the log-probabilities (floored at 1e-7), exponentiated and renormalised
        (a geometric mean: one confident window weighs less, consistent windows more).

    Returns
    -------
    np.ndarray [shape=(n_labels,), dtype=float64]
        Sums to 1.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] == 0:
        raise InvalidParameterError(f"probs must have shape (n_windows >= 1, n_labels >= 1), got {probs.shape}")
    if method not in AGGREGATIONS:
        raise InvalidParameterError(f"method must be one of {AGGREGATIONS}, got {method!r}")
    if weights is None:
        w = np.full(probs.shape[0], 1.0 / probs.shape[0])
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (probs.shape[0],) or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise InvalidParameterError("weights must be finite, non-negative, one per window, not all zero")
        w = w / w.sum()
    if method == "mean":
        out = w @ probs
    else:
        log_mean = w @ np.log(np.maximum(probs, _LOG_FLOOR))
        out = np.exp(log_mean - log_mean.max())
    return out / out.sum()


def merge_tag_scores(
    tag_probs: dict[str, np.ndarray], tag_names: dict[str, Sequence[str]]
) -> dict[str, float]:
    """Merge the tag vocabularies of several backbones into one ``{tag: score}``.

    Names are lower-cased (MSD's ``"Hip-Hop"`` becomes ``"hip-hop"``); a tag present in
    several vocabularies (``"rock"`` in MSD and MTT) keeps its highest score.

    Parameters
    ----------
    tag_probs : dict of str to np.ndarray [shape=(n_tags,)]
        Track-level tag probabilities per backbone.
    tag_names : dict of str to list of str
        The tag names of each backbone, in column order.
    """
    merged: dict[str, float] = {}
    for backbone, scores in tag_probs.items():
        names = tag_names[backbone]
        if len(names) != len(scores):
            raise InvalidParameterError(
                f"backbone {backbone!r} gives {len(scores)} tag scores for {len(names)} tag names"
            )
        for tag, score in zip(names, scores):
            key = str(tag).lower()
            merged[key] = max(merged.get(key, 0.0), float(score))
    return merged



@dataclass
class WindowResults:
    """Per-window results of one input, gathered batch by batch (see :meth:`Classifier.summarize`).

    Window starts and ends are in samples at the model's rate, on the song's time axis.
    ``sum_squares`` and ``n_measured`` give the input's mean power (its silence check).
    """

    starts: list[np.ndarray] = field(default_factory=list)
    ends: list[np.ndarray] = field(default_factory=list)
    probs: list[np.ndarray] = field(default_factory=list)
    levels_db: list[np.ndarray] = field(default_factory=list)
    evidence: list[np.ndarray] = field(default_factory=list)
    tags: dict[str, list[np.ndarray]] = field(default_factory=dict)
    embed: bool = False  # also gather each window's embedding
    embeddings: list[np.ndarray] = field(default_factory=list)
    ood_logits: list[np.ndarray] = field(default_factory=list)
    sum_squares: float = 0.0
    n_measured: int = 0  # samples whose squares are in sum_squares

    @property
    def n_windows(self) -> int:
        """Windows gathered so far."""
        return int(sum(len(s) for s in self.starts))

    def extend(self, other: WindowResults) -> None:
        """Add ``other``'s windows (a later part of the same input, gathered alike) after these."""
        if other.embed != self.embed:
            raise InvalidParameterError("window results with and without embeddings cannot be merged")
        for name in ("starts", "ends", "probs", "levels_db", "evidence", "embeddings", "ood_logits"):
            getattr(self, name).extend(getattr(other, name))
        for backbone, scores in other.tags.items():
            self.tags.setdefault(backbone, []).extend(scores)
        self.sum_squares += other.sum_squares
        self.n_measured += other.n_measured

    def add_windows(self, windows: Sequence[_Window], *, sample_rate: int, check_music: bool) -> np.ndarray:
        """Add the spans, levels (dBFS) and, with ``check_music``, the music evidence of a batch
        of windows at ``sample_rate`` Hz; returns their samples stacked ``(n, samples)`` float32."""
        batch = np.stack([w.samples for w in windows]).astype(np.float32, copy=False)
        starts = np.array([w.start for w in windows], dtype=np.int64)
        self.starts.append(starts)
        self.ends.append(starts + np.array([w.n_valid for w in windows], dtype=np.int64))
        self.levels_db.append(rms_dbfs(batch))
        if check_music:
            self.evidence.append(music_evidence(batch, sample_rate))
        return batch

    def add_outputs(self, outputs: ModelOutputs) -> None:
        """Add what the model says of the windows last added (see :meth:`add_windows`)."""
        self.probs.append(outputs.probs)
        if outputs.embeddings is not None:
            self.embeddings.append(outputs.embeddings)
        if outputs.ood is not None:
            self.ood_logits.append(outputs.ood)
        for backbone, scores in (outputs.tags or {}).items():
            self.tags.setdefault(backbone, []).append(scores)

    def set_outputs(self, outputs: ModelOutputs) -> None:
        """Replace the model outputs gathered so far by ``outputs`` (all the windows' at once)."""
        self.probs, self.embeddings, self.ood_logits, self.tags = [], [], [], {}
        self.add_outputs(outputs)


def window_shares(top: np.ndarray, voting: np.ndarray, n_labels: int) -> np.ndarray:
    """Each label's share (0..1) of the windows whose top genre it is.

    Parameters
    ----------
    top : np.ndarray [shape=(n_windows,), dtype=int]
        Each window's top label (index).
    voting : np.ndarray [shape=(n_windows,), dtype=bool]
        The windows that count (above the silence level); where none does, all count.
    n_labels : int
        Number of labels.
    """
    counted = top[voting] if voting.any() else top
    return np.bincount(counted, minlength=n_labels).astype(np.float64) / max(counted.size, 1)


class AnswerRules(Protocol):
    """What :func:`song_answer` reads of a classifier (a :class:`Classifier` is one)."""

    labels: list[str]
    sample_rate: int  # Hz
    window_length: int  # samples
    aggregation: str
    silence_dbfs: float
    check_music: bool
    uncertainty_thresholds: dict[str, Any]
    tag_names: dict[str, list[str]]
    tag_table: dict[str, Any]

    @property
    def model_info(self) -> ModelInfo:
        """Name and version of the model."""
        ...


def _ood_score(acc: WindowResults, weights: np.ndarray | None) -> float | None:
    """The song's out-of-taxonomy probability: the sigmoid of its windows' mean logit."""
    if not acc.ood_logits:
        return None
    mean_logit = float(np.average(np.concatenate(acc.ood_logits), weights=weights))
    return 1.0 / (1.0 + math.exp(-max(min(mean_logit, 50.0), -50.0)))


def _song_tags(
    acc: WindowResults, voting: np.ndarray, top_k: int, rules: AnswerRules
) -> tuple[list[TagScore], list[TagGroup]]:
    """The ``top_k`` tags of the song (voting windows' mean) and its tag groups."""
    if not (top_k > 0 and acc.tags):
        return [], []
    w = voting.astype(np.float64) if voting.any() else np.ones(len(voting))
    w /= w.sum()
    track_tags = {k: w @ np.concatenate(v).astype(np.float64) for k, v in acc.tags.items()}
    merged = merge_tag_scores(track_tags, rules.tag_names)
    ranked = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
    return [TagScore(tag=t, score=float(s)) for t, s in ranked], group_tags(merged, rules.tag_table)


def song_answer(
    acc: WindowResults, n_samples: int, *, name: str, top_k: int, complete: bool, rules: AnswerRules
) -> Prediction:
    """The prediction of one input's gathered windows ``acc`` (at least one, with the model's
    outputs), by ``rules`` (the classifier's labels, checks and thresholds); the other
    arguments are :meth:`Classifier.summarize`'s."""
    sr = rules.sample_rate
    labels = rules.labels
    starts = np.concatenate(acc.starts)
    ends = np.concatenate(acc.ends)
    probs = np.concatenate(acc.probs)
    levels = np.concatenate(acc.levels_db)
    track_db = 10.0 * math.log10(max(acc.sum_squares / max(acc.n_measured, 1), 1e-20))
    warnings: list[str] = []
    if track_db < rules.silence_dbfs:
        warnings.append(WARNING_SILENT)
    if n_samples < rules.window_length:
        warnings.append(WARNING_SHORT)
    voting = levels >= rules.silence_dbfs
    weights = voting.astype(np.float64) if voting.any() else None
    track = aggregate_probabilities(probs, weights=weights, method=rules.aggregation)
    if rules.check_music and WARNING_SILENT not in warnings:
        evidence = np.concatenate(acc.evidence)
        if not is_music(evidence[voting] if voting.any() else evidence, top_score=float(track.max())):
            warnings.append(WARNING_NOT_MUSIC)
    uncertainty = assess_uncertainty(
        track,
        thresholds=rules.uncertainty_thresholds,
        ood_score=_ood_score(acc, weights),
        not_music=WARNING_SILENT in warnings or WARNING_NOT_MUSIC in warnings,
        labels=labels,
    )
    order = np.argsort(-track, kind="stable")
    ranked_windows = np.argsort(-probs, axis=1, kind="stable")
    shares = window_shares(ranked_windows[:, 0], voting, len(labels))
    segments = [
        Segment(
            start_s=round(float(s) / sr, 3),
            end_s=round(float(e) / sr, 3),
            genre=labels[int(r[0])],
            score=float(p[r[0]]),
            runner_up=GenreScore(labels[int(r[1])], float(p[r[1]])) if len(r) > 1 else None,
        )
        for s, e, r, p in zip(starts, ends, ranked_windows, probs)
    ]
    tags, tag_groups = _song_tags(acc, voting, top_k, rules)
    embedding = segment_embeddings = None
    if acc.embeddings:
        vectors = np.concatenate(acc.embeddings)
        embedding = as_json_vector(track_embedding(vectors, weights))
        segment_embeddings = as_json_vectors(vectors)
    return Prediction(
        name=name, duration_s=round(n_samples / sr, 3), model=rules.model_info,
        genres=[GenreScore(genre=labels[i], score=float(track[i])) for i in order],
        segments=segments, tags=tags, tag_groups=tag_groups, warnings=warnings, uncertainty=uncertainty,
        complete=complete, embedding=embedding, segment_embeddings=segment_embeddings,
        shares=[GenreScore(genre=labels[i], score=float(shares[i])) for i in order],
    )
