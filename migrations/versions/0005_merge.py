"""Join the three branches made in parallel (keys, provenance, chat) into one head.

Revision ID: 0005_merge
Revises: 0002_keys, 0003_provenance, 0004_chat
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005_merge"
down_revision: str | Sequence[str] | None = ("0002_keys", "0003_provenance", "0004_chat")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A merge point: the branches touch different tables, so there is nothing to reconcile.
    pass


def downgrade() -> None:
    pass
