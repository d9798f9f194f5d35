"""Indexes for the dashboard's KPIs at a million tasks (bench/rows.py, docs/benchmarks.md,
"Stored tasks: 10k → 100k → 1M").

api.kpis counts a tenant's tasks by phase and reads its tasks finished in the last hour;
with only single-column indexes both read the whole table (PostgreSQL: parallel
sequential scans, 1.7 s and 2.5 s at 1M rows). (tenant, phase) turns the count into an
index-only scan of a small index (0.16 s), (tenant, updated_at) the window into a range
scan of the last hour's rows (under 1 ms).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tasks_tenant_phase", "tasks", ["tenant", "phase"])
    op.create_index("ix_tasks_tenant_updated_at", "tasks", ["tenant", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_tenant_updated_at", table_name="tasks")
    op.drop_index("ix_tasks_tenant_phase", table_name="tasks")
