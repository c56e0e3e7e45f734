"""API keys, and the key that owns each classification and its share link.

Revision ID: 0003_api_keys
Revises: 0002_library_tracks
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_api_keys"
down_revision = "0002_library_tracks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True),
    )
    with op.batch_alter_table("classifications") as batch:
        batch.add_column(sa.Column("owner_key_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("share_hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_classifications_share_hash", ["share_hash"])
    op.create_index("ix_classifications_owner", "classifications", ["owner_key_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_classifications_owner", table_name="classifications")
    with op.batch_alter_table("classifications") as batch:
        batch.drop_constraint("uq_classifications_share_hash", type_="unique")
        batch.drop_column("share_hash")
        batch.drop_column("owner_key_id")
    op.drop_table("api_keys")
