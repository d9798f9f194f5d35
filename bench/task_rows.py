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
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.dialects import sqlite
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


# What a submission stores: a few hundred bytes, as the API's own specs are. Rendered
# from a template (json.dumps per row was most of the seeding time).
SPEC_TEMPLATE = (
    json.dumps(
        {
            "id": "SEED-@N@",
            "title": "@TITLE@",
            "risk_tier": "@TIER@",
            "mode": "@MODE@",
            "scope": {"in": ["src/", "tests/"]},
            "invariants": ["public API unchanged"],
            "acceptance": [{"id": "A1", "given": "the repo", "when": "tests run", "then": "ok"}],
            "repo": "/srv/repos/app",
            "agent": {"argv": ["agent", "--task", "SEED-@N@"]},
        }
    )
    .replace("%", "%%")
    .replace("@N@", "%(n)d")
    .replace("@TITLE@", "%(title)s")
    .replace('"@TIER@"', "%(tier)d")
    .replace("@MODE@", "%(mode)s")
)


def _spec(n: int, mode: str, tier: int, title: str) -> str:
    # Titles are plain ASCII without quotes: nothing in them needs JSON escaping.
    return SPEC_TEMPLATE % {"n": n, "title": title, "tier": tier, "mode": mode}


def _uuid(bits: int) -> str:
    """A random UUID's text form from 128 random bits (uuid.UUID per row cost as much)."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


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
            updated = created + timedelta(seconds=1 + int(rng.random() * 600))
        mode = MODES[n % len(MODES)]
        tier = 1 + n % 3
        title = f"seeded task {n}: tidy module {n % 977}"
        task_id = _uuid(rng.getrandbits(128))
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
            _uuid(rng.getrandbits(128)),
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
    """The same rows through the sqlite3 driver's executemany, one transaction per BATCH.
    Values go through SQLAlchemy's own bind processors for the column types that have
    one (dates: UTC text as the application stores it); JSON is already text."""
    dialect = sqlite.dialect()
    columns = Task.__table__.c
    processors = [
        None if name in ("spec", "verdicts") else columns[name].type._cached_bind_processor(dialect)
        for name in COLUMNS
    ]
    names = ", ".join(COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    connection = sqlite3.connect(make_url(url).database or "")
    try:
        indexes: list[tuple[str, str]] = []
        if count >= REBUILD_INDEXES_FROM:
            indexes = connection.execute(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name = 'tasks' AND sql IS NOT NULL"
            ).fetchall()
            with connection:
                for name, _ in indexes:
                    connection.execute(f'DROP INDEX "{name}"')
        for first in range(start, start + count, BATCH):
            batch = [
                tuple(
                    process(value) if process is not None else value
                    for process, value in zip(processors, row, strict=True)
                )
                for row in task_rows(first, min(BATCH, start + count - first), now)
            ]
            with connection:
                connection.executemany(f"INSERT INTO tasks ({names}) VALUES ({marks})", batch)
        with connection:
            for _, sql in indexes:
                connection.execute(sql)
    finally:
        connection.close()


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
