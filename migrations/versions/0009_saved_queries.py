"""The database explorer: saved queries; on PostgreSQL its SELECT-only role.

On PostgreSQL: the NOLOGIN role `agency_explorer` (roles are cluster-wide: made only if
missing, never dropped, since other databases of the cluster may use it), SELECT on the
explorer's columns only (never api_keys.hash), and row-level security on those tables: a
permissive policy for everyone (so nothing changes for the application's own role, owner
or not) and a restrictive one for `agency_explorer` alone that keeps the rows of the
tenant in the transaction's `agency.tenant` setting. A frozen copy of
agency/explorer/catalog.py as it was: a migration must not change when that module does.
A database user that may not create roles leaves the role to its DBA (docs/explorer.md);
the explorer then refuses queries on PostgreSQL with a clear problem.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "agency_explorer"
_TASK_SCOPE = (
    "task_id IN (SELECT id FROM tasks WHERE tenant = current_setting('agency.tenant', true))"
)
_TENANT = "tenant = current_setting('agency.tenant', true)"
# table: (columns, the restrictive policy's condition)
TABLES: dict[str, tuple[str, str]] = {
    "tasks": (
        "id, caws_id, title, risk_tier, mode, execution_mode, phase, iteration, "
        "max_iterations, paused, pending_action, applied_commit, error, workflow_id, "
        "workflow_run_id, submitted_by, tenant, spec, verdicts, changed_files, lines_added, "
        "lines_removed, last_seq, created_at, updated_at",
        _TENANT,
    ),
    "task_events": ("id, task_id, seq, at, kind, phase, actor, action, data", _TASK_SCOPE),
    "audit_log": (
        "id, task_id, seq, at, actor, action, phase, verdict, approval_status, detail",
        _TASK_SCOPE,
    ),
    "verdicts": (
        "id, task_id, seq, stage, iteration, judge, verdict, confidence, violations, "
        "rationale, assessment",
        _TASK_SCOPE,
    ),
    "provenance_records": (
        'task_id, kid, record_sha256, jws, "commit", path, outcome, last_seq, '
        "history_events, signed_at, created_at",
        _TASK_SCOPE,
    ),
    "waivers": (
        "id, number, tenant, title, reason, reason_code, gates, delta, applies_to, "
        "risk_owner, risk_tier, created_by, status, created_at, expires_at, activated_at, "
        "revoked_at, revoked_by, revoke_reason",
        _TENANT,
    ),
    "waiver_approvals": (
        "id, waiver_id, approver, handle, comment, approved_at",
        "waiver_id IN (SELECT id FROM waivers "
        "WHERE tenant = current_setting('agency.tenant', true))",
    ),
    "api_keys": (
        "id, prefix, role, tenant, name, created_at, revoked_at, last_used_at",
        _TENANT,
    ),
    "chat_sessions": (
        "id, tenant, created_by, title, model, last_seq, created_at, updated_at",
        _TENANT,
    ),
    "chat_messages": (
        "id, session_id, seq, first_seq, role, content, tokens, model, finish_reason, stats, "
        "created_at",
        "session_id IN (SELECT id FROM chat_sessions "
        "WHERE tenant = current_setting('agency.tenant', true))",
    ),
}

# Made if missing; a race with another database's migration is not an error. A user that
# may not create roles says so and goes on (the DBA makes the role).
_CREATE_ROLE = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
    BEGIN
      CREATE ROLE {ROLE} NOLOGIN;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;
      WHEN insufficient_privilege THEN
        RAISE WARNING 'cannot create role {ROLE}; the explorer stays off on PostgreSQL';
    END;
  END IF;
  -- SET ROLE needs membership unless we are a superuser.
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}')
     AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
     AND NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
    BEGIN
      EXECUTE format('GRANT {ROLE} TO %I', current_user);
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE WARNING 'cannot grant {ROLE} to %', current_user;
    END;
  END IF;
END $$;
"""


def _postgres_upgrade() -> None:
    op.execute(_CREATE_ROLE)
    grants = "\n".join(
        f"GRANT SELECT ({columns}) ON {table} TO {ROLE};" for table, (columns, _) in TABLES.items()
    )
    op.execute(
        f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN "
        f"EXECUTE $g${grants}$g$; END IF; END $$;"
    )
    for table, (_, scope) in TABLES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY agency_everyone ON {table} AS PERMISSIVE USING (true)")
        op.execute(
            f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN "
            f"EXECUTE $p$CREATE POLICY agency_explorer_tenant ON {table} AS RESTRICTIVE "
            f"FOR SELECT TO {ROLE} USING ({scope})$p$; END IF; END $$;"
        )


def _postgres_downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP POLICY IF EXISTS agency_explorer_tenant ON {table}")
        op.execute(f"DROP POLICY IF EXISTS agency_everyone ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute(
        f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN "
        f"EXECUTE 'REVOKE ALL ON {', '.join(TABLES)} FROM {ROLE}'; END IF; END $$;"
    )


def upgrade() -> None:
    op.create_table(
        "saved_queries",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sql", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("shared_with", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_saved_queries_tenant_created_at", "saved_queries", ["tenant", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        _postgres_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_downgrade()
    op.drop_index("ix_saved_queries_tenant_created_at", table_name="saved_queries")
    op.drop_table("saved_queries")
