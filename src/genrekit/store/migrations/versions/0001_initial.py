"""Initial schema: classifications and their optional audio.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "classifications",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=2048), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("top_genre", sa.String(length=200), nullable=False),
        sa.Column("top_score", sa.Float(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("visuals", sa.JSON(), nullable=True),
    )
    op.create_index("ix_classifications_content", "classifications", ["sha256", "model_name", "model_version"])
    op.create_index("ix_classifications_created", "classifications", ["created_at", "id"])
    op.create_index("ix_classifications_top_genre", "classifications", ["top_genre", "created_at"])
    op.create_table(
        "classification_audio",
        sa.Column(
            "classification_id",
            sa.String(length=32),
            sa.ForeignKey("classifications.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("classification_audio")
    op.drop_index("ix_classifications_top_genre", table_name="classifications")
    op.drop_index("ix_classifications_created", table_name="classifications")
    op.drop_index("ix_classifications_content", table_name="classifications")
    op.drop_table("classifications")
