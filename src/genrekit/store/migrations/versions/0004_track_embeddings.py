"""Track embeddings: one searchable vector per classification.

Revision ID: 0004_track_embeddings
Revises: 0003_api_keys
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_track_embeddings"
down_revision = "0003_api_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "track_embeddings",
        sa.Column(
            "classification_id",
            sa.String(length=32),
            sa.ForeignKey("classifications.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("space", sa.String(length=300), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("segment_vectors", sa.LargeBinary(), nullable=True),
    )
    op.create_index("ix_track_embeddings_space", "track_embeddings", ["space"])


def downgrade() -> None:
    op.drop_index("ix_track_embeddings_space", table_name="track_embeddings")
    op.drop_table("track_embeddings")
