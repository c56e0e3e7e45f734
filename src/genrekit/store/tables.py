"""SQLAlchemy ORM tables of the service's storage.

Schema changes go through Alembic migrations (:mod:`genrekit.store.migrations`); the
tables here must always match the latest migration.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is stored as
    naive UTC and given back its ``tzinfo`` when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


class Classification(Base):
    """One classified input: its result, its visuals and where it came from."""

    __tablename__ = "classifications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    filename: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    duration_s: Mapped[float] = mapped_column(Float, nullable=False)
    model_name: Mapped[str] = mapped_column(String(200), nullable=False)
    model_version: Mapped[str] = mapped_column(String(100), nullable=False)
    top_genre: Mapped[str] = mapped_column(String(200), nullable=False)
    top_score: Mapped[float] = mapped_column(Float, nullable=False)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    visuals: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    owner_key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    share_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (
        Index("ix_classifications_content", "sha256", "model_name", "model_version"),
        Index("ix_classifications_created", "created_at", "id"),
        Index("ix_classifications_top_genre", "top_genre", "created_at"),
        Index("ix_classifications_owner", "owner_key_id", "created_at", "id"),
        UniqueConstraint("share_hash", name="uq_classifications_share_hash"),
    )


class ClassificationAudio(Base):
    """The submitted audio bytes of a classification (only when ``keep_audio`` is set)."""

    __tablename__ = "classification_audio"

    classification_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("classifications.id", ondelete="CASCADE"), primary_key=True
    )
    media_type: Mapped[str] = mapped_column(String(100), nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class LibraryTrack(Base):
    """One audio file of a scanned library (``genrekit scan``) and where its result is.

    A track is identified by its path; ``size_bytes`` and ``mtime_ns`` tell a rerun
    whether the file changed, ``sha256`` whether its content did. A classified track
    points at its :class:`Classification` (shared by every file with the same content and
    model version); a failed one has ``status = "error"`` and the reason in ``error``.
    """

    __tablename__ = "library_tracks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(String(4096), nullable=False, unique=True)
    library: Mapped[str] = mapped_column(String(4096), nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    mtime_ns: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    model_name: Mapped[str] = mapped_column(String(200), nullable=False)
    model_version: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    top_genre: Mapped[str | None] = mapped_column(String(200), nullable=True)
    top_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    classification_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("classifications.id", ondelete="SET NULL"), nullable=True
    )
    scanned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)

    __table_args__ = (
        Index("ix_library_tracks_library", "library", "path"),
        Index("ix_library_tracks_sha256", "sha256"),
        Index("ix_library_tracks_top_genre", "top_genre", "top_score"),
    )


class ApiKey(Base):
    """An API key: its role and the SHA-256 of its secret (the secret itself is never stored)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)


class TrackEmbedding(Base):
    """The embedding of a classification: the searchable copy of its track vector.

    ``space`` is the model's embedding ``name@version`` (see
    :class:`genrekit.predict.embedding.EmbeddingSpec`): only vectors of one space are
    compared. ``vector`` is the unit vector as little-endian float32 bytes (``dim`` of them),
    the format sqlite-vec reads; ``segment_vectors`` the segments' vectors, row after row.
    On PostgreSQL with pgvector, :mod:`genrekit.store.vectors` keeps a ``vector``-typed
    copy next to it for the search.
    """

    __tablename__ = "track_embeddings"

    classification_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("classifications.id", ondelete="CASCADE"), primary_key=True
    )
    space: Mapped[str] = mapped_column(String(300), nullable=False)
    dim: Mapped[int] = mapped_column(Integer, nullable=False)
    vector: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    segment_vectors: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    __table_args__ = (Index("ix_track_embeddings_space", "space"),)


class Correction(Base):
    """An editor's correction of a classification: the right genre, with what retraining needs.

    One per classification (correcting again replaces it). ``embedding`` is the result's track
    embedding when the model gave one; ``audio`` a copy of the input's audio, only when
    ``feedback_keep_audio`` is set and the server had kept it.
    """

    __tablename__ = "corrections"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    classification_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("classifications.id", ondelete="CASCADE"), nullable=False
    )
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    genre: Mapped[str] = mapped_column(String(200), nullable=False)
    predicted_genre: Mapped[str] = mapped_column(String(200), nullable=False)
    model_name: Mapped[str] = mapped_column(String(200), nullable=False)
    model_version: Mapped[str] = mapped_column(String(100), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    embedding: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    audio: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    media_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), nullable=False)

    __table_args__ = (
        UniqueConstraint("classification_id", name="uq_corrections_classification"),
        Index("ix_corrections_status", "status", "created_at"),
    )
