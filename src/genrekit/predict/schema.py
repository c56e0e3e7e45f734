"""The one result schema shared by the Python API, the CLI, the REST API and batch jobs.

:class:`Prediction` and its parts are plain frozen dataclasses; :meth:`Prediction.to_dict`
is the JSON form every interface returns.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO, Union

import numpy as np

UNCERTAINTY_LEVELS = ("confident", "mixed", "unknown")


@dataclass(frozen=True)
class Reliability:
    """What a level has been worth on music from sources the model never saw (from the card).

    ``rate`` (0..1) is how often a ``confident`` answer was right, how often a ``mixed`` answer
    named the right genre among its genres, or the share of out-of-taxonomy music an
    ``unknown`` answer caught; ``low``/``high`` bound its 95 % interval; ``coverage`` (0..1) is the
    share of in-taxonomy songs that got this level; ``statement`` says it in words.
    """

    rate: float
    low: float
    high: float
    coverage: float
    statement: str


@dataclass(frozen=True)
class Uncertainty:
    """How far to trust a prediction's top genre.

    ``level`` is ``"confident"``, ``"mixed"`` (two or more genres are close: "Blues / Jazz")
    or ``"unknown"`` (probably none of the model's genres). ``ood_score`` (0..1, higher =
    more likely outside the model's label set) is ``None`` where the model has no
    out-of-distribution score. ``named`` lists the genres the answer names (one when
    confident, two or three when mixed, none when unknown); ``reliability`` is what this
    level was worth on held-out sources, where the model's card measured it.
    """

    level: str
    ood_score: float | None = None
    named: list[str] = field(default_factory=list)
    reliability: Reliability | None = None


@dataclass(frozen=True)
class GenreScore:
    """One label with its track-level probability (0..1)."""

    genre: str
    score: float


@dataclass(frozen=True)
class Segment:
    """One analysis window: its span (seconds), its top genre and its runner-up (if any)."""

    start_s: float
    end_s: float
    genre: str
    score: float
    runner_up: GenreScore | None = None


@dataclass(frozen=True)
class TagScore:
    """One backbone tag (mood, era, instrument, style) with its probability (0..1)."""

    tag: str
    score: float


@dataclass(frozen=True)
class TagGroup:
    """Tags of one kind (``group``: genre, mood, instrument, vocals, era, other), synonyms merged."""

    group: str
    title: str
    tags: list[TagScore]


@dataclass(frozen=True)
class ModelInfo:
    """Name and version of the model that produced a prediction."""

    name: str
    version: str


@dataclass(frozen=True)
class Prediction:
    """Result of classifying one input.

    Attributes
    ----------
    name : str
        Path or name of the input.
    duration_s : float
        Duration of the decoded audio (seconds).
    model : ModelInfo
    genres : list of GenreScore
        Every label with its score, sorted by decreasing score.
    segments : list of Segment
        The per-window timeline, in time order.
    tags : list of TagScore
        Top-k backbone tags, sorted by decreasing score (empty if the model has none).
    tag_groups : list of TagGroup
        Every tag above the table's floor, synonyms merged, grouped by kind (see
        :mod:`genrekit.predict.tag_groups`).
    warnings : list of str
        e.g. ``"near-silent input"`` or ``"not music"``: the genre is then not trustworthy.
    uncertainty : Uncertainty or None
        How far to trust ``genres[0]`` (``None`` where it was not assessed).
    complete : bool
        Whether ``segments`` cover the whole input (``False`` for spread windows: the
        timeline has gaps).
    embedding : list of float or None
        The track's L2-normalised embedding, where it was asked for (``embed=True``); its
        space (model embedding name and version) is the card's ``config["embedding"]``.
    segment_embeddings : list of list of float or None
        One L2-normalised embedding per segment (same order), where it was asked for.
    shares : list of GenreScore
        Each label's share (0..1) of the classified windows that rank it first (silent
        windows left out), in the order of ``genres``: where it differs from the scores,
        the timeline is mostly another genre than the headline. Empty in results made
        before shares existed.
    """

    name: str
    duration_s: float
    model: ModelInfo
    genres: list[GenreScore]
    segments: list[Segment]
    tags: list[TagScore] = field(default_factory=list)
    tag_groups: list[TagGroup] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    uncertainty: Uncertainty | None = None
    complete: bool = True
    embedding: list[float] | None = None
    segment_embeddings: list[list[float]] | None = None
    shares: list[GenreScore] = field(default_factory=list)

    @property
    def top_genre(self) -> str:
        """The label with the highest score."""
        return self.genres[0].genre

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary in the shared result schema."""
        return asdict(self)


AudioSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO, np.ndarray]
"""What :meth:`Classifier.predict` accepts: a path, encoded bytes, a binary file object, or
a waveform array (with its ``sr``)."""
