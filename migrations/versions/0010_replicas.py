"""Many replicas: rate-limit buckets shared by every API process (agency/db/rate_limits.py),
and on PostgreSQL a notice for every task event written (agency/db/event_notices.py).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
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
    if op.get_context().dialect.name == "postgresql":
        # The payload is the task id only: a woken stream reads the rows by seq.
        op.execute(
            "CREATE FUNCTION task_events_notify() RETURNS trigger AS $$\n"
            "BEGIN\n"
            "  PERFORM pg_notify('agency_task_events', NEW.task_id);\n"
            "  RETURN NULL;\n"
            "END;\n"
            "$$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER task_events_notify AFTER INSERT ON task_events "
            "FOR EACH ROW EXECUTE FUNCTION task_events_notify()"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER task_events_notify ON task_events")
        op.execute("DROP FUNCTION task_events_notify()")
    op.drop_table("rate_limit_buckets")
