"""How soon an intervention is visible in the API: pause and resume, alternately, on tasks
waiting for approval, each timed from the moment its POST is sent until a GET of the task
shows it (`paused` flipped), on the stack `agency up` runs (bench.process_stack).

    .venv/bin/python -m bench.intervention [--interventions 300] [--tasks 4] [--database-url …]

An intervention is a Temporal update: the workflow's handler records it (the audit entry
and the projection) before it answers, and the API answers 202 once the workflow has; so
the GET right after the answer is expected to show it, and the bench checks that it does.
First one task is intervened on, one intervention after another (what a person sees);
then `--tasks` tasks at once, each by its own client, one after another (the cores are
shared: the latency is then mostly the queue, Little's law).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.api import make_repo
from bench.breakdown import percentile
from bench.fresh_database import fresh_database
from bench.process_stack import running_stack
from bench.task_api import api_client, strict_task, submit, wait_for_phase
from domain.interventions import MAX_HOLDING_INTERVENTIONS

WARM_UP = 4


class NotVisible(RuntimeError):
    """The task did not show an intervention its POST had been answered for."""


async def toggle(http: httpx.AsyncClient, task_id: str, n: int) -> list[float]:
    """n pauses and resumes in turn on one task, from the state it is in; seconds from
    each send to visible."""
    took: list[float] = []
    paused = (await http.get(f"/api/v1/tasks/{task_id}")).json()["paused"]
    for _ in range(n):
        action = "resume" if paused else "pause"
        sent = time.perf_counter()
        response = await http.post(f"/api/v1/tasks/{task_id}/{action}", json={"reason": "bench"})
        if response.status_code != 202:
            raise NotVisible(f"{action} {task_id}: {response.status_code} {response.text}")
        paused = not paused
        for _attempt in range(1000):
            task = (await http.get(f"/api/v1/tasks/{task_id}")).json()
            if task["paused"] is paused:
                break
        else:
            raise NotVisible(f"{action} of {task_id} answered but never shown")
        took.append(time.perf_counter() - sent)
    return took


@dataclass
class Series:
    label: str
    took: list[float]  # seconds from send to visible, sorted
    wall: float


async def measure(
    base_url: str, key: str, repo: Path, interventions: int, tasks: int
) -> list[Series]:
    """Interventions on one task, one at a time (the latency a person sees), then on
    `tasks` tasks at once (each by its own client: the cores shared, a queue forms)."""
    async with api_client(base_url, key, tasks + 2) as http:
        ids = await submit(http, strict_task(repo), tasks, tasks)
        await wait_for_phase(http, ids, "awaiting_approval")
        await toggle(http, ids[0], WARM_UP)  # connections, the worker's caches
        per_task = max(1, interventions // tasks)
        started = time.perf_counter()
        alone = await toggle(http, ids[0], per_task)
        alone_wall = time.perf_counter() - started
        started = time.perf_counter()
        runs = await asyncio.gather(*(toggle(http, t, per_task) for t in ids))
        wall = time.perf_counter() - started
    return [
        Series("one task, one at a time", sorted(alone), alone_wall),
        Series(f"{tasks} tasks at once", sorted(t for run in runs for t in run), wall),
    ]


def table(series: list[Series]) -> str:
    rows = []
    against = []
    for s in series:
        cells = [percentile(s.took, p) * 1000 for p in (50, 95, 99)] + [s.took[-1] * 1000]
        rows.append(
            f"| pause / resume, {s.label} ({len(s.took)}, {len(s.took) / s.wall:.0f}/s) | "
            + " | ".join(f"{c:.1f}" for c in cells)
            + " |"
        )
        against.append(f"{s.label} {cells[2]:.1f} ms")
    return "\n".join(
        [
            "| intervention → visible in the API | p50 ms | p95 ms | p99 ms | max ms |",
            "| --- | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            "against its target (p99 < 50 ms): " + "; ".join(against),
        ]
    )


def run(interventions: int, tasks: int, database_url: str | None = None) -> str:
    """The whole measurement on a stack of its own; the report as markdown."""
    with tempfile.TemporaryDirectory(prefix="agency-bench-") as tmp:
        root = Path(tmp)
        repo = make_repo(root / "repo")
        with fresh_database(database_url) as url, running_stack(root / "data", url) as stack:
            series = asyncio.run(
                measure(stack.api_url, stack.admin_key, repo, interventions, tasks)
            )
    return table(series)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interventions", type=int, default=300)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    # The first task takes the warm-up, its series alone and its share at once; half of
    # them pauses, which a task takes at most MAX_HOLDING_INTERVENTIONS of.
    pauses = (WARM_UP + 2 * max(1, args.interventions // args.tasks)) // 2
    if pauses > MAX_HOLDING_INTERVENTIONS:
        parser.error(
            f"--interventions {args.interventions} with --tasks {args.tasks} pauses the "
            f"first task {pauses} times; a task takes at most {MAX_HOLDING_INTERVENTIONS}"
        )
    print("\n" + run(args.interventions, args.tasks, args.database_url))


if __name__ == "__main__":
    main()
