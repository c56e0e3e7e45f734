"""Bundle + waveform -> Prediction (segments + whole song).

The one result schema shared by the Python API, the CLI, the REST API and batch jobs.
The :class:`Classifier` is implemented in this module (see issue 4).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GenreScore:
    """One label with its track-level probability (0..1)."""

    genre: str
    score: float


@dataclass(frozen=True)
class Segment:
    """One analysis window: its span (seconds) and its top genre."""

    start_s: float
    end_s: float
    genre: str
    score: float


@dataclass(frozen=True)
class TagScore:
    """One backbone tag (mood, era, instrument, style) with its probability (0..1)."""

    tag: str
    score: float


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
    warnings : list of str
        e.g. ``"near-silent input"`` or ``"not music"``: the genre is then not trustworthy.
    """

    name: str
    duration_s: float
    model: ModelInfo
    genres: list[GenreScore]
    segments: list[Segment]
    tags: list[TagScore] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def top_genre(self) -> str:
        """The label with the highest score."""
        return self.genres[0].genre

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary in the shared result schema."""
        return asdict(self)
