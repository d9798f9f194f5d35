"""Drop the executors table: executors are Temporal workers now, and Temporal's own list
of the pollers of their task queue is the census (api.pollers). The table only held what
a health probe of the former executor services last saw.

Revision ID: 0006_drop_executors
Revises: 0005_merge
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_drop_executors"
down_revision: str | Sequence[str] | None = "0005_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("executors")


def downgrade() -> None:
    # As 0001 made it. Its rows (probe results) are not restored: the next probe of an
    # executor service wrote them anyway.
    op.create_table(
        "executors",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sandbox", sa.String(length=50), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active_runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("url"),
    )
