"""Many replicas: rate-limit buckets shared by every API process (agency/db/rate_limits.py).

Revision ID: 0010
Revises: 0007_artifacts
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0007_artifacts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Created on SQLite too (the schema is one on both dialects), where it stays empty:
    # SQLite deployments count in the API process.
    op.create_table(
        "rate_limit_buckets",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_buckets")
