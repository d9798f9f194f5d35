"""API keys cached per API process on PostgreSQL (agency/db/key_cache.py): a notice on
channel `agency_api_keys` whenever a key's row changes in a way that matters to
authentication (revoked, deleted, its role, tenant, name or hash changed), by whichever
process wrote it (an API replica, `agency keys revoke --direct`, SQL by hand). The
notice is delivered when the writing transaction commits, so a cache that drops the key
on it and reads again finds the new row.

`last_used_at` changes (written at most once a minute per key and replica) send nothing:
they change no answer.

Rate-limit buckets get `granted`: how many tokens the last spend took, now that one
statement spends for all of a process's concurrent requests of a key
(agency/db/rate_limits.py, api/shared_ratelimit.py).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rate_limit_buckets") as batch:
        batch.add_column(sa.Column("granted", sa.Integer(), server_default="1", nullable=False))
    if op.get_context().dialect.name != "postgresql":
        # SQLite has no notices; its reader sees a revocation on the next read.
        return
    # The payload is the key id only: a cache drops that key and reads its row again.
    op.execute(
        "CREATE FUNCTION api_keys_notify() RETURNS trigger AS $$\n"
        "BEGIN\n"
        "  IF TG_OP = 'DELETE' THEN\n"
        "    PERFORM pg_notify('agency_api_keys', OLD.id);\n"
        "  ELSIF (NEW.revoked_at, NEW.role, NEW.tenant, NEW.name, NEW.hash, NEW.id)\n"
        "      IS DISTINCT FROM (OLD.revoked_at, OLD.role, OLD.tenant, OLD.name, OLD.hash, OLD.id)\n"
        "  THEN\n"
        "    PERFORM pg_notify('agency_api_keys', OLD.id);\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "END;\n"
        "$$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER api_keys_notify AFTER UPDATE OR DELETE ON api_keys "
        "FOR EACH ROW EXECUTE FUNCTION api_keys_notify()"
    )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER api_keys_notify ON api_keys")
        op.execute("DROP FUNCTION api_keys_notify()")
    with op.batch_alter_table("rate_limit_buckets") as batch:
        batch.drop_column("granted")
