"""Provenance records and waivers (with their approvals).

Revision ID: 0003_provenance
Revises: 0001
Create Date: 2025-11-27 10:00:00+00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_provenance"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # No foreign key to tasks, like the audit log: the record must outlive the projection.
    op.create_table(
        "provenance_records",
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("kid", sa.String(length=100), nullable=False),
        sa.Column("record_sha256", sa.String(length=64), nullable=False),
        sa.Column("jws", sa.Text(), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("history_events", sa.Integer(), nullable=False),
        _timestamp("signed_at"),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("task_id"),
    )

    op.create_table(
        "waivers",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reason_code", sa.String(length=50), nullable=False),
        sa.Column("gates", sa.JSON(), nullable=False),
        sa.Column("delta", sa.JSON(), nullable=False),
        sa.Column("applies_to", sa.JSON(), nullable=False),
        sa.Column("risk_owner", sa.String(length=200), nullable=False),
        sa.Column("risk_tier", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        _timestamp("activated_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number", name="uq_waivers_number"),
    )
    op.create_index("ix_waivers_tenant_status", "waivers", ["tenant", "status"])

    op.create_table(
        "waiver_approvals",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("waiver_id", sa.String(length=16), nullable=False),
        sa.Column("approver", sa.String(length=200), nullable=False),
        sa.Column("handle", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        _timestamp("approved_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(
            ["waiver_id"], ["waivers.id"], name="fk_waiver_approvals_waiver_id_waivers"
        ),
        sa.UniqueConstraint("waiver_id", "handle", name="uq_waiver_approvals_waiver_id_handle"),
    )


def downgrade() -> None:
    op.drop_table("waiver_approvals")
    op.drop_index("ix_waivers_tenant_status", table_name="waivers")
    op.drop_table("waivers")
    op.drop_table("provenance_records")
