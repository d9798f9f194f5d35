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
"""

from __future__ import annotations

DYNAMIC_CONFIG: dict[str, str] = {
    # Updates (interventions that answer) must be on whatever the server default.
    "frontend.enableUpdateWorkflowExecution": "true",
    # A shard hands out a new task as soon as it is written, not on the next 50 ms tick.
    "history.transferProcessorMaxPollRPS": "1000",
}


def dynamic_config_args() -> list[str]:
    """`--dynamic-config-value KEY=VALUE` for each of DYNAMIC_CONFIG."""
    args: list[str] = []
    for key, value in DYNAMIC_CONFIG.items():
        args += ["--dynamic-config-value", f"{key}={value}"]
    return args
