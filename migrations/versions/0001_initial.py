"""Initial schema: tasks, task events, audit log (append-only), verdicts, executors.

Revision ID: 0001
Revises:
Create Date: 2025-11-26 11:00:00+00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_MESSAGE = "audit log is append-only"

# 64-bit ids on PostgreSQL; SQLite auto-increments only INTEGER PRIMARY KEY.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TASK_ID = sa.String(length=64)


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", TASK_ID, nullable=False),
        sa.Column("caws_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("risk_tier", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("execution_mode", sa.String(length=20), nullable=False),
        sa.Column("phase", sa.String(length=30), nullable=False),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("max_iterations", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("pending_action", sa.String(length=100), nullable=True),
        sa.Column("applied_commit", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("workflow_run_id", sa.String(length=255), nullable=True),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("verdicts", sa.JSON(), nullable=False),
        sa.Column("changed_files", sa.Integer(), nullable=False),
        sa.Column("lines_added", sa.Integer(), nullable=False),
        sa.Column("lines_removed", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tasks_tenant_created_at", "tasks", ["tenant", "created_at", "id"])
    op.create_index("ix_tasks_created_at", "tasks", ["created_at", "id"])
    op.create_index("ix_tasks_phase", "tasks", ["phase"])
    op.create_index("ix_tasks_mode", "tasks", ["mode"])
    op.create_index("ix_tasks_risk_tier", "tasks", ["risk_tier"])
    op.create_index("ix_tasks_execution_mode", "tasks", ["execution_mode"])
    op.create_index("ix_tasks_caws_id", "tasks", ["caws_id"])

    op.create_table(
        "task_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("task_id", TASK_ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        _timestamp("at"),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("phase", sa.String(length=30), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_task_events_task_id_tasks"),
        sa.UniqueConstraint("task_id", "seq", name="uq_task_events_task_id_seq"),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("task_id", TASK_ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        _timestamp("at"),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("phase", sa.String(length=30), nullable=False),
        sa.Column("verdict", sa.String(length=50), nullable=True),
        sa.Column("approval_status", sa.String(length=50), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "seq", name="uq_audit_log_task_id_seq"),
    )

    op.create_table(
        "verdicts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("task_id", TASK_ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=True),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("judge", sa.String(length=30), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("violations", sa.JSON(), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("assessment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_verdicts_task_id_tasks"),
    )
    op.create_index("ix_verdicts_task_id_seq", "verdicts", ["task_id", "seq"])

    op.create_table(
        "executors",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sandbox", sa.String(length=50), nullable=False),
        _timestamp("last_seen"),
        sa.Column("active_runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("url"),
    )

    _create_append_only_guard()


def downgrade() -> None:
    _drop_append_only_guard()
    op.drop_table("executors")
    op.drop_index("ix_verdicts_task_id_seq", table_name="verdicts")
    op.drop_table("verdicts")
    op.drop_table("audit_log")
    op.drop_table("task_events")
    for name in (
        "ix_tasks_caws_id",
        "ix_tasks_execution_mode",
        "ix_tasks_risk_tier",
        "ix_tasks_mode",
        "ix_tasks_phase",
        "ix_tasks_created_at",
        "ix_tasks_tenant_created_at",
    ):
        op.drop_index(name, table_name="tasks")
    op.drop_table("tasks")


def _dialect() -> str:
    # The migration context's dialect works online and offline (`--sql`) alike.
    return op.get_context().dialect.name


def _create_append_only_guard() -> None:
    """Refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of audit rows in the database
    itself, so that no code path, bug or hand-typed SQL can rewrite the audit trail."""
    dialect = _dialect()
    if dialect == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION audit_log_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}: % on audit_log is not allowed', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END;
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        # Row triggers do not fire on TRUNCATE; a statement trigger closes that door too.
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    elif dialect == "sqlite":
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{operation.lower()} BEFORE {operation} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: {operation} on audit_log "
                "is not allowed'); END"
            )


def _drop_append_only_guard() -> None:
    dialect = _dialect()
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
