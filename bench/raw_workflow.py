"""The baseline for bench.e2e: one workflow, one no-op activity (its own module, so the
workflow sandbox imports nothing else)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench_noop")
async def bench_noop(x: int) -> int:
    return x


@workflow.defn(name="BenchRaw")
class RawWorkflow:
    @workflow.run
    async def run(self, x: int) -> int:
        return await workflow.execute_activity(
            "bench_noop", x, start_to_close_timeout=timedelta(seconds=10), result_type=int
        )
