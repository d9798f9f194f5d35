"""Many stored tasks, fast, for bench.rows: the `tasks` projection as a busy deployment
would hold it, written by COPY (PostgreSQL) or one big executemany a batch (SQLite).

Row n is the n-th newest task (created `STEP` before row n-1), so a table grown from
10k to 1M rows keeps its newest tasks near now, as a deployment with more history would:
the first page and the KPI window read the same recent rows at every size. The newest
NON_TERMINAL rows are still running; the rest finished, mostly completed (PHASE_SHARES).
Only `tasks` is seeded: none of the reads measured touches task_events, audit_log or
verdicts (GET of a finished task, the list and the KPIs read the projection alone).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import create_engine, insert
from sqlalchemy.engine import make_url

from agency.db.models import Task
from bench.procs import plain_dsn

STEP = timedelta(seconds=15)
NON_TERMINAL = 100
RUNNING_PHASES = ("queued", "validating", "plan_review", "executing", "result_review")
# Finished tasks by how they ended (shares of 100).
PHASE_SHARES = {"completed": 85, "failed": 6, "rejected": 6, "canceled": 3}
MODES = ("feature", "refactor", "fix", "doc", "chore")
EXECUTION_MODES = ("strict", "auto", "dry_run")
TENANT = "default"
BATCH = 50_000

COLUMNS = (
    "id",
    "caws_id",
    "title",
    "risk_tier",
    "mode",
    "execution_mode",
    "phase",
    "iteration",
    "max_iterations",
    "paused",
    "pending_action",
    "applied_commit",
    "error",
    "workflow_id",
    "workflow_run_id",
    "submitted_by",
    "tenant",
    "spec",
    "verdicts",
    "changed_files",
    "lines_added",
    "lines_removed",
    "last_seq",
    "created_at",
    "updated_at",
)


def _spec(n: int, mode: str, tier: int, title: str) -> str:
    # What a submission stores: a few hundred bytes, as the API's own specs are.
    return json.dumps(
        {
            "id": f"SEED-{n}",
            "title": title,
            "risk_tier": tier,
            "mode": mode,
            "scope": {"in": ["src/", "tests/"]},
            "invariants": ["public API unchanged"],
            "acceptance": [{"id": "A1", "given": "the repo", "when": "tests run", "then": "ok"}],
            "repo": "/srv/repos/app",
            "agent": {"argv": ["agent", "--task", f"SEED-{n}"]},
        }
    )


# The four judges of a finished round (council.models.Judgment), with short rationales.
VERDICTS = json.dumps(
    [
        {
            "judge": judge,
            "verdict": "pass",
            "confidence": 0.9,
            "violations": [],
            "rationale": f"{judge}: within scope, acceptance met",
        }
        for judge in ("constitutional", "technical", "quality", "integration")
    ]
)


def task_rows(start: int, count: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Rows `start` .. `start + count - 1` (COLUMNS order; JSON as text), deterministic."""
    rng = random.Random(start)
    finished = [phase for phase, share in PHASE_SHARES.items() for _ in range(share)]
    for n in range(start, start + count):
        created = now - n * STEP
        if n < NON_TERMINAL:
            phase = RUNNING_PHASES[n % len(RUNNING_PHASES)]
            updated = created
        else:
            phase = rng.choice(finished)
            updated = created + timedelta(seconds=rng.randint(1, 600))
        mode = MODES[n % len(MODES)]
        tier = 1 + n % 3
        title = f"seeded task {n}: tidy module {n % 977}"
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        done = phase == "completed"
        yield (
            task_id,
            f"SEED-{n}",
            title,
            tier,
            mode,
            EXECUTION_MODES[n % len(EXECUTION_MODES)],
            phase,
            1,
            3,
            False,
            None,
            f"{rng.getrandbits(160):040x}" if done else None,
            "gate failed: tests" if phase == "failed" else None,
            f"task-{task_id}",
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "seed@example.org",
            TENANT,
            _spec(n, mode, tier, title),
            VERDICTS if phase != "queued" else "[]",
            3 if done else 0,
            20 if done else 0,
            5 if done else 0,
            12,
            created,
            updated,
        )


# A load this large goes faster without its secondary indexes, built once afterwards,
# than with every index updated row by row (the random-UUID primary key stays).
REBUILD_INDEXES_FROM = 100_000


async def seed_postgres(url: str, start: int, count: int, now: datetime) -> None:
    """COPY rows start .. start+count-1 into tasks, then VACUUM ANALYZE (what autovacuum
    would have done by the time a table this size is read: statistics and a visibility
    map, so the planner sees the table as a live deployment's)."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        indexes: list[tuple[str, str]] = []
        if count >= REBUILD_INDEXES_FROM:
            indexes = [
                (row["indexname"], row["indexdef"])
                for row in await connection.fetch(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'tasks' "
                    "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
                )
            ]
            for name, _ in indexes:
                await connection.execute(f'DROP INDEX "{name}"')
        for first in range(start, start + count, BATCH):
            rows = list(task_rows(first, min(BATCH, start + count - first), now))
            await connection.copy_records_to_table("tasks", records=rows, columns=COLUMNS)
        await connection.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            await connection.execute(definition)
        await connection.execute("VACUUM (ANALYZE) tasks")
    finally:
        await connection.close()


def seed_sqlite(url: str, start: int, count: int, now: datetime) -> None:
    """The same rows through SQLAlchemy Core (so dates and JSON are stored exactly as the
    application writes them), one transaction per BATCH."""
    sync_url = make_url(url).set(drivername="sqlite")
    engine = create_engine(sync_url)
    table = Task.__table__
    try:
        with engine.begin() as connection:
            indexes: list[tuple[str, str]] = []
            if count >= REBUILD_INDEXES_FROM:
                indexes = [
                    (name, sql)
                    for name, sql in connection.exec_driver_sql(
                        "SELECT name, sql FROM sqlite_master "
                        "WHERE type = 'index' AND tbl_name = 'tasks' AND sql IS NOT NULL"
                    )
                ]
                for name, _ in indexes:
                    connection.exec_driver_sql(f'DROP INDEX "{name}"')
        for first in range(start, start + count, BATCH):
            batch = [
                dict(zip(COLUMNS, row, strict=True))
                for row in task_rows(first, min(BATCH, start + count - first), now)
            ]
            for row in batch:
                # Core's JSON type takes the Python value, not the text.
                row["spec"] = json.loads(row["spec"])
                row["verdicts"] = json.loads(row["verdicts"])
            with engine.begin() as connection:
                connection.execute(insert(table), batch)
        with engine.begin() as connection:
            for _, sql in indexes:
                connection.exec_driver_sql(sql)
    finally:
        engine.dispose()


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
