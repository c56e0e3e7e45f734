"""Library tracks: the files of scanned libraries (``genrekit scan``) and their results.

Revision ID: 0002_library_tracks
Revises: 0001_initial
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_library_tracks"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_tracks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("path", sa.String(length=4096), nullable=False, unique=True),
        sa.Column("library", sa.String(length=4096), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("top_genre", sa.String(length=200), nullable=True),
        sa.Column("top_score", sa.Float(), nullable=True),
        sa.Column(
            "classification_id",
            sa.String(length=32),
            sa.ForeignKey("classifications.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_library_tracks_library", "library_tracks", ["library", "path"])
    op.create_index("ix_library_tracks_sha256", "library_tracks", ["sha256"])
    op.create_index("ix_library_tracks_top_genre", "library_tracks", ["top_genre", "top_score"])


def downgrade() -> None:
    op.drop_index("ix_library_tracks_top_genre", table_name="library_tracks")
    op.drop_index("ix_library_tracks_sha256", table_name="library_tracks")
    op.drop_index("ix_library_tracks_library", table_name="library_tracks")
    op.drop_table("library_tracks")
