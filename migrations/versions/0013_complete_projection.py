"""The task projection holds the whole state a read shows: the council's latest decision,
every round judged and the last execution (domain.audit.ProjectionPatch), so that
GET /api/v1/tasks/{id} answers from the database alone instead of asking the running
workflow on every read (an intervention was visible only after a Temporal query: 14 ms
of a 51 ms median, docs/benchmarks.md).

Tasks stored before keep NULL rounds: a read of one of them while it runs still asks
its workflow (api.routes.tasks.get_task).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("decision", "rounds", "execution")


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
