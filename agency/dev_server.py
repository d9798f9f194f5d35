"""How the embedded Temporal dev server is configured, in one place for `agency up`, the
tests and the benchmarks (so that what is measured is what runs).

`history.transferProcessorMaxPollRPS` bounds how often a history shard reads its queue of
tasks to hand to matching (workflow tasks, activity tasks); the server's default is 20 a
second. The dev server has a single shard, so every workflow and activity task of every
workflow waited for the next 50 ms tick before a worker could see it: a raw one-activity
workflow took 100 ms (two workflow tasks) and half of a governed task's time was these
waits (docs/benchmarks.md, "Where the time goes"). A cluster spreads workflows over many
shards (512 or more), where a shard rarely has to wait for its own limit; set the same
value in its dynamic config to get the same latency (docs/operations.md).

`agency up` keeps the dev server's state in a SQLite file, which the server opens in its
rollback-journal mode: every transaction writes and syncs a journal, then the database.
In write-ahead-log mode a transaction appends to the log and syncs it once, still before
the server answers (`synchronous` stays FULL: a transaction Temporal acknowledged is on
disk, which the records in our own database rely on). Measured with the stack `agency
up` runs (an intervention on a waiting task, then a read of it): the update took 38 ms
at the median and 62 ms at the 95th percentile in rollback mode, 35 and 45 ms in WAL
mode. The mode is stored in the file, so a database created before stays in WAL once
opened this way.
"""

from __future__ import annotations

DYNAMIC_CONFIG: dict[str, str] = {
    # Updates (interventions that answer) must be on whatever the server default.
    "frontend.enableUpdateWorkflowExecution": "true",
    # A shard hands out a new task as soon as it is written, not on the next 50 ms tick.
    "history.transferProcessorMaxPollRPS": "1000",
}


# Pragmas of the dev server's SQLite file (the in-memory store of tests takes none).
SQLITE_PRAGMAS: dict[str, str] = {"journal_mode": "wal"}


def file_store_args(path: str) -> list[str]:
    """The dev server's state in the SQLite file `path`, in write-ahead-log mode."""
    args = ["--db-filename", path]
    for key, value in SQLITE_PRAGMAS.items():
        args += ["--sqlite-pragma", f"{key}={value}"]
    return args


def dynamic_config_args() -> list[str]:
    """`--dynamic-config-value KEY=VALUE` for each of DYNAMIC_CONFIG."""
    args: list[str] = []
    for key, value in DYNAMIC_CONFIG.items():
        args += ["--dynamic-config-value", f"{key}={value}"]
    return args
