"""Request and response schemas of the REST API.

The classification schemas mirror :meth:`genrekit.predict.Prediction.to_dict` (the result
schema shared with the CLI and the Python API) and add the stored record's fields.
Families follow the FastAPI template: ``...Base`` (shared fields), ``...Public`` (returned).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Output(BaseModel):
    """A response model: fields with defaults are still always sent, so the schema lists them as required."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class GenreScorePublic(_Output):
    """One label with its track-level probability."""

    genre: str
    score: float = Field(ge=0.0, le=1.0)


class SegmentPublic(_Output):
    """One analysis window and its top genre."""

    start_s: float = Field(description="Start of the window (seconds).")
    end_s: float = Field(description="End of the window (seconds).")
    genre: str
    score: float = Field(ge=0.0, le=1.0)
    runner_up: GenreScorePublic | None = Field(
        default=None, description="The window's second genre (null for results stored before it existed)."
    )


class TagScorePublic(_Output):
    """One backbone tag (mood, era, instrument, style) with its probability."""

    tag: str
    score: float = Field(ge=0.0, le=1.0)


class TagGroupPublic(_Output):
    """Tags of one kind (genre-like, mood, instrument, vocals, era), synonyms merged."""

    group: str = Field(description="Key of the group: 'genre', 'mood', 'instrument', 'vocals', 'era' or 'other'.")
    title: str = Field(description="Heading to show for the group.")
    tags: list[TagScorePublic] = Field(description="Tags above the floor, highest first.")


class ModelInfoPublic(_Output):
    """Name and version of the model that produced a prediction."""

    name: str
    version: str


class ReliabilityPublic(_Output):
    """What an uncertainty level was worth on held-out sources."""

    rate: float = Field(ge=0.0, le=1.0, description="Confident: share right; mixed: share naming the right genre; unknown: share of outside music caught.")
    low: float = Field(ge=0.0, le=1.0, description="Lower end of the rate's 95% interval.")
    high: float = Field(ge=0.0, le=1.0, description="Upper end of the rate's 95% interval.")
    coverage: float = Field(ge=0.0, le=1.0, description="Share of in-taxonomy songs given this level.")
    statement: str = Field(description="The rate in words, for people.")


class UncertaintyPublic(_Output):
    """How far to trust the top genre."""

    level: Literal["confident", "mixed", "unknown"] = Field(
        description="'mixed': two genres are close; 'unknown': probably none of the model's genres."
    )
    ood_score: float | None = Field(
        default=None, ge=0.0, le=1.0, description="0..1, higher = more likely outside the model's genres; null if the model has none."
    )
    named: list[str] = Field(
        default_factory=list,
        description="The genres the answer names: one when confident, two or three when mixed, none when unknown.",
    )
    reliability: ReliabilityPublic | None = Field(
        default=None,
        description="What this level was worth on music from sources the model never saw (measured, from the model card).",
    )


class ClassificationBase(_Output):
    """The shared result schema (``Prediction.to_dict()``)."""

    name: str = Field(description="Name of the input (the uploaded file name or the URL).")
    duration_s: float = Field(description="Duration of the decoded audio (seconds).")
    model: ModelInfoPublic
    genres: list[GenreScorePublic] = Field(description="Every label with its score, highest first.")
    segments: list[SegmentPublic] = Field(description="Per-window timeline, in time order.")
    tags: list[TagScorePublic] = Field(default_factory=list, description="Top backbone tags, highest first.")
    tag_groups: list[TagGroupPublic] = Field(
        default_factory=list,
        description="The tags with synonyms merged, grouped by kind, those below the bundle's floor dropped.",
    )
    warnings: list[str] = Field(default_factory=list, description="Reasons not to trust the genre, if any.")
    uncertainty: UncertaintyPublic | None = Field(
        default=None, description="How far to trust the top genre (null for results stored before it existed)."
    )
    complete: bool = Field(
        default=True,
        description="Whether the segments cover the whole input: the genres, uncertainty and warnings are then the whole "
        "song's answer (every window, the same aggregation). False: the quick answer from spread windows (gaps); the "
        "background timeline replaces it once every window is classified.",
    )
    embedding: list[float] | None = Field(
        default=None,
        description="The track's unit embedding. Null in API responses: the service keeps it in its vector index (see /similar).",
    )
    segment_embeddings: list[list[float]] | None = Field(
        default=None, description="One unit embedding per segment; null in API responses (kept in the vector index)."
    )
    shares: list[GenreScorePublic] = Field(
        default_factory=list,
        description="Each genre's share (0..1) of the classified windows that rank it first (silent windows left out), "
        "in the order of `genres`: tells a headline apart from what most of the timeline says. Empty for results "
        "stored before shares existed.",
    )


class TimelinePublic(_Output):
    """Progress of the full timeline (every window) that follows the quick answer."""

    state: Literal["complete", "running", "partial"] = Field(
        description="'complete': the segments cover the song; 'running': windows are being classified in the "
        "background (poll the classification); 'partial': spread windows only, nothing running."
    )
    covered_s: float = Field(ge=0.0, description="Seconds from the start covered by consecutive windows.")


class ClassificationPublic(ClassificationBase):
    """A stored classification as the API returns it."""

    id: str = Field(description="Identifier of the stored classification (permalink key).")
    created_at: dt.datetime = Field(description="When the classification was first computed (UTC).")
    sha256: str = Field(description="SHA-256 of the submitted audio bytes (hex).")
    filename: str | None = Field(description="Original file name, or the URL for links.")
    cached: bool = Field(description="True when this answer was found stored, without running the model.")
    timeline: TimelinePublic
    has_audio: bool = Field(description="The server keeps this input's audio: `.../audio` plays it.")


class ClassificationSummary(_Output):
    """A history entry: the stored classification without segments and tags."""

    id: str
    created_at: dt.datetime
    sha256: str
    filename: str | None
    duration_s: float
    model: ModelInfoPublic
    top_genre: str
    top_score: float = Field(ge=0.0, le=1.0)
    genres: list[GenreScorePublic]
    warnings: list[str] = Field(default_factory=list)
    uncertainty: UncertaintyPublic | None = None
    complete: bool = Field(default=True, description="Whether the stored timeline covers the whole input.")


class ClassificationsPublic(_Output):
    """One page of history, newest first."""

    data: list[ClassificationSummary]
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page; null on the last page.")


class ClassifyUrlRequest(BaseModel):
    """JSON body of ``POST /classify`` for a link instead of an upload."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2048,
        json_schema_extra={"format": "uri"},
        description="An http(s) link to an audio file, or to a page yt-dlp understands (YouTube, ...).",
        examples=["https://example.org/song.mp3"],
    )


class MelImage(_Output):
    """A small log-mel spectrogram image for display."""

    n_mels: int = Field(description="Number of rows (mel bands).")
    n_frames: int = Field(description="Number of columns (time buckets).")
    db_min: float = Field(description="dB value of pixel 0 (-80: 0 dB is the level of a full-scale sine).")
    db_max: float = Field(description="dB value of pixel 255 (0, a full-scale sine).")
    f_max_hz: float | None = Field(
        default=None,
        description="Top edge of the highest band (Hz); bands are spaced on the Slaney mel scale from 0 Hz. "
        "Null for images stored before it was recorded (11025 Hz, or half the model's sample rate if lower).",
    )
    data: str = Field(
        description="Base64 of uint8 pixels, row-major (n_mels, n_frames), lowest frequency row first; "
        "dB = db_min + pixel / 255 * (db_max - db_min)."
    )


class VisualsPublic(_Output):
    """Waveform peaks and a mel image, computed at classification time."""

    peaks: list[float] = Field(description="Max absolute amplitude (0..1) per time bucket, in time order.")
    mel: MelImage
    duration_s: float = Field(description="Duration of the decoded audio (seconds).")


class ModelPublic(_Output):
    """A loaded model as described by its card."""

    name: str
    version: str
    model_type: str
    labels: list[str]
    sample_rate: int = Field(description="Sample rate the model works at (Hz).")
    window_s: float = Field(description="Length of one analysis window (seconds).")
    metrics: dict[str, Any] = Field(default_factory=dict)
    limitations: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list, description="Tag vocabulary of the backbone, if any.")


class ModelVersionPublic(_Output):
    """A version in the model registry."""

    id: str = Field(description="Registry id (the card's version).")
    name: str
    registered_at: str = Field(description="When it was registered (ISO 8601, UTC).")
    source: str = Field(description="Where it came from (retrain, import).")
    parent: str | None = Field(description="The version it was retrained from.")
    evaluation: dict[str, Any] = Field(default_factory=dict, description="Champion-versus-challenger evaluation.")


class ModelsPublic(_Output):
    """The model this server runs, and the registry it follows."""

    data: list[ModelPublic]
    champion: str | None = Field(default=None, description="Registry id of the champion (null: no registry version).")
    versions: list[ModelVersionPublic] = Field(default_factory=list, description="Registered versions, oldest first.")
    history: list[dict[str, Any]] = Field(
        default_factory=list, description="Registry changes (register, promote, refuse, rollback), oldest first."
    )


class ConfigPublic(_Output):
    """What this server accepts and keeps (from its settings), for clients to check before uploading."""

    keep_audio: bool = Field(
        description="Submitted audio is stored: `GET /classifications/{id}/audio` returns it. "
        "When false that route always answers 404."
    )
    max_upload_mb: float = Field(gt=0, description="Largest accepted upload (MiB, 1 MiB = 1,048,576 bytes).")
    max_upload_bytes: int = Field(gt=0, description="Largest accepted upload (bytes); one more gets 413.")
    max_duration_s: float | None = Field(
        gt=0, description="Longest accepted decoded audio (seconds); longer gets 422. Null: no limit."
    )
    audio_max_file_bytes: int = Field(gt=0, description="Kept audio: larger submissions are not kept (bytes).")
    audio_max_total_bytes: int = Field(gt=0, description="Kept audio: the oldest is dropped past this total (bytes).")
    audio_max_age_days: float = Field(gt=0, description="Kept audio: dropped after this many days.")


class HealthPublic(_Output):
    """Answer of ``/healthz`` and ``/readyz``."""

    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class SharePublic(BaseModel):
    """An unguessable link that shows one classification to anyone holding it."""

    token: str = Field(description="The share token (shown once; sharing again replaces it).")
    url: str = Field(description="Path of the shared result: `GET` it without an API key.")


class KeyCreate(BaseModel):
    """Body of ``POST /keys``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["read", "editor", "admin"] = Field(description="read: classify and see its own history; "
                                                     "editor: also correct results; admin: also models and keys.")
    name: str = Field(default="", max_length=200, description="Who or what uses the key.")
    rate_limit_per_minute: int | None = Field(
        default=None, ge=0, description="Classification requests per minute; null: the server's limit; 0: none."
    )


class KeyPublic(BaseModel):
    """An API key as listed (never its secret)."""

    id: str = Field(description="Public id of the key (what revoking takes).")
    name: str
    role: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    rate_limit_per_minute: int | None


class KeyCreatedPublic(KeyPublic):
    """A new key, with its secret: the only time the server shows it."""

    key: str = Field(description="The key itself; send it as `Authorization: Bearer <key>`.")


class KeysPublic(BaseModel):
    """Every API key, oldest first."""

    data: list[KeyPublic]


class SimilarTrack(BaseModel):
    """One neighbour of a track."""

    id: str
    name: str | None = Field(description="File name or URL of the neighbour.")
    score: float = Field(ge=-1.0, le=1.0, description="Cosine similarity of the embeddings (1: same direction).")
    top_genre: str
    genres: list[GenreScorePublic] = Field(description="The neighbour's genres, highest first.")


class SimilarPublic(BaseModel):
    """The nearest stored tracks of a classification."""

    id: str = Field(description="The query classification.")
    space: str = Field(description="Embedding space searched (model embedding name@version).")
    min_score: float = Field(ge=-1.0, le=1.0, description="Least similarity listed: neighbours below it are left out.")
    score_meaning: str = Field(description="What the similarity score means, in a sentence for people.")
    data: list[SimilarTrack] = Field(description="Neighbours at or above min_score, most similar first (may be empty).")


class SearchHit(ClassificationSummary):
    """A catalog search hit: the history entry plus its top tags."""

    tags: list[TagScorePublic] = Field(default_factory=list)


class SearchPublic(BaseModel):
    """One page of catalog search results, newest first."""

    data: list[SearchHit]
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page; null on the last page.")


class CatalogStatsPublic(BaseModel):
    """Catalog size and genre distribution."""

    total: int = Field(description="Stored classifications.")
    genres: dict[str, int] = Field(description="Count per top genre.")
    spaces: dict[str, int] = Field(description="Stored track embeddings per embedding space.")


class MapPointPublic(BaseModel):
    """One track on the catalog map."""

    id: str
    name: str | None
    genre: str
    score: float
    x: float
    y: float


class CatalogMapPublic(BaseModel):
    """The catalog's embeddings projected to 2-D (PCA)."""

    space: str | None = Field(description="Embedding space shown (null: the catalog has no embeddings).")
    explained_variance: list[float] = Field(description="Fraction of the variance on each axis.")
    points: list[MapPointPublic]


class FeedbackCreate(BaseModel):
    """Body of ``POST /classifications/{id}/feedback``: the right genre."""

    model_config = ConfigDict(extra="forbid", strict=True)

    genre: str = Field(min_length=1, max_length=200, description="The right genre: one of the model's labels.")


class CorrectionPublic(BaseModel):
    """A stored correction."""

    id: str
    classification_id: str
    genre: str = Field(description="The right genre, as the editor said.")
    predicted_genre: str = Field(description="What the model answered.")
    model: ModelInfoPublic = Field(description="The model version that answered.")
    has_embedding: bool = Field(description="The result's track embedding is stored with the correction.")
    audio_kept: bool = Field(description="A copy of the audio is stored for retraining (GENREKIT_FEEDBACK_KEEP_AUDIO).")
    status: str
    created_at: dt.datetime
