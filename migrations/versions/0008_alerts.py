"""Alerts from the SLO evaluator, silences, their transitions and webhook deliveries.

Revision ID: 0008
Revises: 0007_artifacts
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007_artifacts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY_MESSAGE = "alert transitions are append-only"


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(length=200), nullable=False),
        sa.Column("open_fingerprint", sa.String(length=200), nullable=True),
        sa.Column("slo", sa.String(length=100), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        _at("started_at"),
        _at("last_seen_at"),
        _at("acknowledged_at", nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        _at("resolved_at", nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        _at("last_notified_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_fingerprint", name="uq_alerts_open_fingerprint"),
    )
    op.create_index("ix_alerts_state", "alerts", ["state"])
    op.create_table(
        "silences",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        _at("starts_at"),
        _at("ends_at"),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _at("created_at"),
        _at("expired_at", nullable=True),
        sa.Column("expired_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])
    op.create_table(
        "alert_transitions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("alert_id", BIG_ID, nullable=True),
        sa.Column("silence_id", BIG_ID, nullable=True),
        _at("at"),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_transitions_alert_id", "alert_transitions", ["alert_id"])
    op.create_index("ix_alert_transitions_notify_at", "alert_transitions", ["notify", "at"])
    _create_append_only_guard()
    op.create_table(
        "alert_deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("transition_id", BIG_ID, nullable=False),
        sa.Column("url_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        _at("delivered_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("transition_id", "url_hash", name="uq_alert_deliveries_transition_url"),
    )


def downgrade() -> None:
    op.drop_table("alert_deliveries")
    _drop_append_only_guard()
    op.drop_index("ix_alert_transitions_notify_at", table_name="alert_transitions")
    op.drop_index("ix_alert_transitions_alert_id", table_name="alert_transitions")
    op.drop_table("alert_transitions")
    op.drop_index("ix_silences_ends_at", table_name="silences")
    op.drop_table("silences")
    op.drop_index("ix_alerts_state", table_name="alerts")
    op.drop_table("alerts")


def _dialect() -> str:
    return op.get_context().dialect.name


def _create_append_only_guard() -> None:
    """The alerts' audit trail, like audit_log's (0001): no UPDATE, DELETE or TRUNCATE
    of a transition, whatever the code path."""
    if _dialect() == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION alert_transitions_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}: % is not allowed', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END;
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER alert_transitions_append_only BEFORE UPDATE OR DELETE "
            "ON alert_transitions FOR EACH ROW EXECUTE FUNCTION alert_transitions_append_only()"
        )
        op.execute(
            "CREATE TRIGGER alert_transitions_no_truncate BEFORE TRUNCATE ON alert_transitions "
            "FOR EACH STATEMENT EXECUTE FUNCTION alert_transitions_append_only()"
        )
    elif _dialect() == "sqlite":
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER alert_transitions_no_{operation.lower()} BEFORE {operation} "
                f"ON alert_transitions BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: "
                f"{operation} is not allowed'); END"
            )


def _drop_append_only_guard() -> None:
    if _dialect() == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS alert_transitions_no_truncate ON alert_transitions")
        op.execute("DROP TRIGGER IF EXISTS alert_transitions_append_only ON alert_transitions")
        op.execute("DROP FUNCTION IF EXISTS alert_transitions_append_only()")
    elif _dialect() == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS alert_transitions_no_update")
        op.execute("DROP TRIGGER IF EXISTS alert_transitions_no_delete")
