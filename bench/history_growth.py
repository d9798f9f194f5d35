"""How a task's Temporal history grows: per iteration, per kilobyte of spec, and per
intervention while it waits for approval; and how far that is from Temporal's limits.

    .venv/bin/python -m bench.history_growth [--iterations 1,3] [--interventions 10]
                                             [--pad-kb 50]

On the stack of bench/process_stack.py (SQLite), through the API:

- iterations: auto-mode no-op tasks whose one gate always fails, so the council asks
  for changes until max_iterations runs out and rejects; one task per max_iterations in
  --iterations. The slope between the two is what one more iteration adds;
- spec size: the same with the spec padded by --pad-kb KB of invariants; the extra
  bytes over the unpadded task, divided by the pad, is how many copies of the spec
  history holds (at the start, and per iteration);
- interventions: one strict task awaiting approval, read before and after each batch
  of --interventions: pause + resume pairs, guidance (100 characters each), and updates
  the workflow refuses (resume while not paused: 409); then approved.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from agency.stack import stop_signals
from agency.temporal_client import connect, workflow_id_for
from bench.api import make_repo
from bench.history_size import LIMIT_BYTES, LIMIT_EVENTS, WARN_EVENTS, HistorySize, history_size
from bench.process_stack import BenchStack, running_stack
from bench.task_api import api_client, strict_task, submit, wait_for_phase
from bench.waiting import say, scratch_dir
from domain.interventions import MAX_HOLDING_INTERVENTIONS

FAILING_GATE = {"name": "always-fails", "argv": ["python3", "-c", "raise SystemExit(1)"]}
GUIDANCE = "g" * 100
MAX_ITERATIONS = 20  # the spec's upper bound (council/spec.py)


@dataclass
class Growth:
    # max_iterations → history of the rejected task, unpadded and padded.
    iterations: dict[int, HistorySize] = field(default_factory=dict)
    padded: dict[int, HistorySize] = field(default_factory=dict)
    pad_bytes: int = 0
    # Intervention batch → (count, history before, history after).
    interventions: dict[str, tuple[int, HistorySize, HistorySize]] = field(default_factory=dict)
    waiting: HistorySize | None = None


def padded_spec(body: dict[str, Any], pad_kb: int) -> tuple[dict[str, Any], int]:
    """`body` with pad_kb KB more of invariants; the spec's added size in bytes."""
    line = "invariant " * 100  # 1,000 characters
    extra = [f"{i} {line}" for i in range(pad_kb)]
    return {**body, "invariants": [*body.get("invariants", []), *extra]}, sum(map(len, extra))


async def one_task(http: httpx.AsyncClient, body: dict[str, Any], phase: str) -> str:
    (task_id,) = await submit(http, body, 1, 1)
    await wait_for_phase(http, [task_id], phase)
    return task_id


async def intervene(http: httpx.AsyncClient, task_id: str, name: str, body: dict[str, Any]) -> int:
    response = await http.post(f"/api/v1/tasks/{task_id}/{name}", json=body)
    return response.status_code


async def measure(
    stack: BenchStack, repo: Path, iterations: list[int], batch: int, pad_kb: int
) -> Growth:
    growth = Growth()
    client = await connect(stack.settings)

    async def size(task_id: str) -> HistorySize:
        return await history_size(client, workflow_id_for(task_id))

    rejected = {**strict_task(repo), "execution_mode": "auto", "gates": [FAILING_GATE]}
    big, growth.pad_bytes = padded_spec(rejected, pad_kb)
    async with api_client(stack.api_url, stack.admin_key, 4) as http:
        for k in iterations:
            say(f"a task refined {k} time(s) until rejected, plain and padded …")
            plain = await one_task(http, {**rejected, "max_iterations": k}, "rejected")
            growth.iterations[k] = await size(plain)
            fat = await one_task(http, {**big, "max_iterations": k}, "rejected")
            growth.padded[k] = await size(fat)

        say(f"interventions on a task awaiting approval, {batch} of each …")
        waiting = await one_task(http, strict_task(repo), "awaiting_approval")
        growth.waiting = await size(waiting)
        batches: list[tuple[str, list[tuple[str, dict[str, Any], int]]]] = [
            ("pause + resume (one pair)", [("pause", {}, 202), ("resume", {}, 202)]),
            ("guidance (100 characters)", [("guidance", {"text": GUIDANCE}, 202)]),
            ("refused update (409)", [("resume", {}, 409)]),
        ]
        for label, steps in batches:
            before = await size(waiting)
            for _ in range(batch):
                for name, body, expected in steps:
                    status = await intervene(http, waiting, name, body)
                    if status != expected:
                        raise RuntimeError(f"{name} answered {status}, expected {expected}")
            growth.interventions[label] = (batch, before, await size(waiting))
        if await intervene(http, waiting, "approve", {}) != 202:
            raise RuntimeError("approve refused")
        await wait_for_phase(http, [waiting], "completed")
    return growth


def per_step(a: HistorySize, b: HistorySize, steps: int) -> tuple[float, float]:
    return (b.events - a.events) / steps, (b.bytes - a.bytes) / steps


def tables(g: Growth) -> str:
    ks = sorted(g.iterations)
    lo, hi = ks[0], ks[-1]
    ev_iter, by_iter = per_step(g.iterations[lo], g.iterations[hi], hi - lo)
    pad = g.pad_bytes
    copies_start = (g.padded[lo].bytes - g.iterations[lo].bytes) / pad
    _, by_iter_pad = per_step(g.padded[lo], g.padded[hi], hi - lo)
    copies_iter = (by_iter_pad - by_iter) / pad
    lines = [
        "\nHistory of a task refined until rejected (auto mode, a gate that always fails)\n",
        f"| max_iterations | events | KiB | KiB with the spec padded by {pad // 1000} KB |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for k in ks:
        lines.append(
            f"| {k} | {g.iterations[k].events} | {g.iterations[k].bytes / 1024:.1f} | "
            f"{g.padded[k].bytes / 1024:.1f} |"
        )
    lines += [
        f"\nPer iteration: {ev_iter:.1f} events, {by_iter / 1024:.1f} KiB; copies of the spec "
        f"in history: {copies_start:.1f} for the first iteration and the start, "
        f"{copies_iter:.1f} per further iteration.",
        "\nInterventions on a task awaiting approval\n",
        "| intervention | count | events each | bytes each |",
        "| --- | ---: | ---: | ---: |",
    ]
    per_intervention = 0.0
    for label, (n, before, after) in g.interventions.items():
        ev, by = per_step(before, after, n)
        if label.startswith("pause"):
            per_intervention = ev / 2  # one pair is two interventions
        lines.append(f"| {label} | {n} | {ev:.1f} | {by:.0f} |")
    at_max = g.iterations[hi].events + (MAX_ITERATIONS - hi) * ev_iter
    bytes_at_max = g.iterations[hi].bytes + (MAX_ITERATIONS - hi) * by_iter
    lines += ["\nBounds (Temporal warns at 10,240 events; refuses 51,200 events or 50 MB)\n"]
    lines.append(
        f"- {MAX_ITERATIONS} iterations (the spec's maximum): about {at_max:.0f} events, "
        f"{bytes_at_max / 1024:.0f} KiB with a small spec; with a spec of 1 MB (the API's "
        f"body limit) about {(copies_start + copies_iter * (MAX_ITERATIONS - 1)):.0f} MB "
        f"of spec copies against the {LIMIT_BYTES // 2**20} MB limit."
    )
    if per_intervention > 0:
        lines.append(
            f"- interventions at {per_intervention:.1f} events each: the warning after about "
            f"{(WARN_EVENTS - at_max) / per_intervention:.0f} interventions on a task at "
            f"{MAX_ITERATIONS} iterations, the hard limit after about "
            f"{(LIMIT_EVENTS - at_max) / per_intervention:.0f}; the workflow takes at "
            f"most {MAX_HOLDING_INTERVENTIONS} that hold or steer a task "
            f"(about {at_max + 2 * MAX_HOLDING_INTERVENTIONS * per_intervention:.0f} events "
            "with their resumes)."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", default="1,3", help="two or more max_iterations")
    parser.add_argument("--interventions", type=int, default=10, help="of each kind")
    parser.add_argument("--pad-kb", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=900.0, help="for the whole run (s)")
    args = parser.parse_args(argv)
    iterations = sorted({int(k) for k in args.iterations.split(",")})
    if len(iterations) < 2:
        parser.error("--iterations needs two values or more, e.g. 1,3")
    with stop_signals(), scratch_dir() as work, running_stack(work / "data", None) as stack:
        repo = make_repo(work / "repo")
        try:
            growth = asyncio.run(
                asyncio.wait_for(
                    measure(stack, repo, iterations, args.interventions, args.pad_kb),
                    args.timeout,
                )
            )
        except TimeoutError:
            print(
                f"bench.history_growth: gave up after --timeout {args.timeout:g} s", file=sys.stderr
            )
            return 1
    print(tables(growth))
    return 0


if __name__ == "__main__":
    sys.exit(main())
