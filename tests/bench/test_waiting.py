"""bench.waiting end to end with three tasks: the whole stack as processes, strict tasks
through the HTTP API to awaiting approval, approved, completed; the figures are there
(not judged: timings depend on the machine)."""

from __future__ import annotations

import pytest

from bench.history_size import sample
from bench.waiting import PARTS, run, tables


@pytest.mark.timeout(180)
def test_three_strict_tasks_wait_for_approval_then_complete_once_approved() -> None:
    report = run(
        3, concurrency=3, clients=1, seconds=0.5, post_rate=2, sample_size=3, timeout_s=240
    )

    assert len(report.to_approval_each_s) == 3  # all three reached awaiting_approval
    # The three plus the tasks POSTed while they waited, each approved and completed.
    assert report.approved > 3
    assert len(report.to_completed_each_s) == report.approved
    assert [r.name for r in report.latency] == [
        "GET /api/v1/tasks/{id}",
        "GET /api/v1/tasks?limit=50",
        "POST /api/v1/tasks (strict)",
    ]
    assert all(r.requests > 0 and r.errors == 0 for r in report.latency)
    for rss in (report.rss_idle, report.rss_waiting, report.rss_completed):
        assert set(rss) == set(PARTS) and all(v > 0 for v in rss.values())
    assert len(report.history_waiting) == len(report.history_completed) == 3
    for waiting, completed in zip(report.history_waiting, report.history_completed, strict=True):
        assert 0 < waiting.events < completed.events
        assert 0 < waiting.bytes < completed.bytes
    assert "approved → completed" in tables(report)


def test_the_history_sample_spreads_over_the_ids_and_keeps_the_ends() -> None:
    ids = [str(i) for i in range(100)]
    picked = sample(ids, 5)
    assert picked[0] == "0" and picked[-1] == "99" and len(set(picked)) == 5
    assert sample(ids[:3], 5) == ids[:3]
