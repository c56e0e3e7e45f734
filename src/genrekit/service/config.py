"""Settings of the REST service, read from ``GENREKIT_*`` environment variables.

Every field can be set from the environment with the ``GENREKIT_`` prefix, e.g.
``GENREKIT_DATABASE_URL=postgresql+psycopg://user@host/db`` or ``GENREKIT_KEEP_AUDIO=true``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from genrekit.settings import DEFAULT_MAX_DURATION_S, NO_LIMIT_WORDS, default_data_dir, sqlite_url_in

MEGABYTE = 1024 * 1024  # bytes


class Settings(BaseSettings):
    """Configuration of :func:`genrekit.service.main.create_app`.

    Attributes
    ----------
    data_dir : Path
        Where the default SQLite database lives.
    database_url : str or None
        SQLAlchemy URL; ``None`` means ``sqlite:///<data_dir>/genrekit.sqlite``.
        PostgreSQL: ``postgresql+psycopg://user:password@host:5432/dbname``.
    model : Path or None
        Model bundle directory; ``None`` means the bundle shipped with genrekit.
    max_windows : int or None
        Windows a song is classified from (spread over it); ``None`` keeps the model card's
        (4 for the bundled model), 0 classifies every window (a complete timeline, slower).
    max_upload_mb : float
        Largest accepted upload (MiB); larger bodies get 413 while they stream in.
    max_duration_s : float or None
        Longest accepted decoded audio (seconds); longer gets 422. ``none`` (the same
        spelling as for the audio module's ``GENREKIT_MAX_DURATION_S``) removes the limit.
    max_concurrent_jobs : int
        Worker threads running decode + inference.
    max_queue : int
        Jobs allowed to wait for a worker; one more gets 503.
    job_timeout_s : float
        Time (seconds) a request waits for its job (queueing included) before 504.
    deployment : {"local", "deployed"}
        ``local`` (one person on their own machine, the default) keeps submitted audio
        unless ``keep_audio`` says otherwise; ``deployed`` keeps none unless ``keep_audio``
        is set.
    keep_audio : bool or None
        Store submitted audio so ``GET /classifications/{id}/audio`` can play it back;
        ``None`` follows ``deployment`` (see :attr:`keeps_audio`).
    audio_max_file_mb : float
        Kept audio: larger submissions are classified but their audio is not kept (MiB).
    audio_max_total_mb : float
        Kept audio: the oldest audio is dropped (its result stays) once all of it passes this (MiB).
    audio_max_age_days : float
        Kept audio: audio older than this is dropped (its result stays), in days.
    full_timeline : bool
        After the quick answer from spread windows, classify every window in the background
        so the stored timeline ends up covering the whole song.
    timeline_shutdown_wait_s : float
        On shutdown, background timelines still running get this long (seconds) to finish
        before they are cancelled (a cancelled one keeps its partial timeline); the deploy
        files set it, and the container's stop timeout must cover it.
    allow_private_urls : bool
        Let ``{"url": ...}`` reach loopback, private, link-local and reserved addresses.
    url_max_mb : float
        Largest download (MiB) for a URL.
    url_timeout_s : float
        Total time (seconds) allowed for a URL download (page extraction included).
    url_max_redirects : int
        Redirects followed for one URL (each hop is checked again).
    rate_limit_per_minute : int
        Classification requests allowed per client IP per minute; 0 turns the limit off.
    threads : int or None
        Inference threads of each classification (``GENREKIT_THREADS``); ``None`` divides
        the CPU cores among the workers.
    require_keys : bool
        Key mode: every API call needs ``Authorization: Bearer <key>`` (see
        :mod:`genrekit.service.access.control`); ``genrekit serve`` turns it on by itself on a
        public interface.
    cors_origins : str
        Comma-separated origins allowed to call the API from a browser
        (``https://app.example.org``); empty (the default) allows none but the server's own.
    model_registry : Path or None
        Model registry folder (:mod:`genrekit.lifecycle.versions`); ``None`` means
        ``<data_dir>/models``. Its champion, when it has one, is served instead of ``model``.
    model_poll_s : float
        Seconds between checks of the registry's champion (hot reload); 0 checks only when a
        promotion or rollback goes through this server's API.
    feedback_keep_audio : bool
        Corrections keep a copy of the corrected input's audio (when the server kept it), so
        that retraining can use it; off, they keep only the result and its embedding.
    """

    model_config = SettingsConfigDict(env_prefix="GENREKIT_", extra="forbid", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    model: Path | None = None
    max_windows: int | None = Field(default=None, ge=0)
    max_upload_mb: float = Field(default=100.0, gt=0)
    max_duration_s: float | None = Field(default=DEFAULT_MAX_DURATION_S, gt=0)
    max_concurrent_jobs: int = Field(default=2, ge=1)
    max_queue: int = Field(default=32, ge=0)
    job_timeout_s: float = Field(default=300.0, gt=0)
    deployment: Literal["local", "deployed"] = "local"
    keep_audio: bool | None = None
    audio_max_file_mb: float = Field(default=100.0, gt=0)
    audio_max_total_mb: float = Field(default=2048.0, gt=0)
    audio_max_age_days: float = Field(default=30.0, gt=0)
    full_timeline: bool = True
    timeline_shutdown_wait_s: float = Field(default=0.0, ge=0)
    allow_private_urls: bool = False
    url_max_mb: float = Field(default=100.0, gt=0)
    url_timeout_s: float = Field(default=60.0, gt=0)
    url_max_redirects: int = Field(default=5, ge=0)
    rate_limit_per_minute: int = Field(default=0, ge=0)
    threads: int | None = Field(default=None, ge=1)
    require_keys: bool = False
    cors_origins: str = ""
    model_registry: Path | None = None
    model_poll_s: float = Field(default=5.0, ge=0)
    feedback_keep_audio: bool = False

    @field_validator("max_duration_s", mode="before")
    @classmethod
    def _no_duration_limit(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in NO_LIMIT_WORDS:
            return None
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return sqlite_url_in(self.data_dir)

    @property
    def keeps_audio(self) -> bool:
        """Whether submitted audio is stored: ``keep_audio``, or by default only in local mode."""
        return self.keep_audio if self.keep_audio is not None else self.deployment == "local"

    @property
    def registry_dir(self) -> Path:
        """The model registry folder: ``model_registry`` or ``<data_dir>/models``."""
        return self.model_registry if self.model_registry is not None else self.data_dir / "models"

    @property
    def cors_origin_list(self) -> list[str]:
        """``cors_origins`` as a list (blank entries dropped)."""
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def max_upload_bytes(self) -> int:
        """``max_upload_mb`` in bytes."""
        return int(self.max_upload_mb * MEGABYTE)

    @property
    def url_max_bytes(self) -> int:
        """``url_max_mb`` in bytes."""
        return int(self.url_max_mb * MEGABYTE)
