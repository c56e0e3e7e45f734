"""Corrections: editors' right genres, with the embedding and (optionally) the audio.

Revision ID: 0005_corrections
Revises: 0004_track_embeddings
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_corrections"
down_revision = "0004_track_embeddings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column(
            "classification_id",
            sa.String(length=32),
            sa.ForeignKey("classifications.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("genre", sa.String(length=200), nullable=False),
        sa.Column("predicted_genre", sa.String(length=200), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("embedding", sa.JSON(), nullable=True),
        sa.Column("audio", sa.LargeBinary(), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("classification_id", name="uq_corrections_classification"),
    )
    op.create_index("ix_corrections_status", "corrections", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_corrections_status", table_name="corrections")
    op.drop_table("corrections")
