"""bench.intervention on a stack of its own: every pause and resume it sends is answered
and then seen in the API (timings are reported, not judged)."""

from __future__ import annotations

import pytest

from bench.intervention import run


@pytest.mark.timeout(180)
def test_each_intervention_is_timed_from_its_post_to_the_get_that_shows_it() -> None:
    report = run(interventions=6, tasks=2)
    rows = [line for line in report.splitlines() if line.startswith("| pause / resume, ")]
    assert [row.split(" (")[0] for row in rows] == [
        "| pause / resume, one task, one at a time",
        "| pause / resume, 2 tasks at once",
    ]
    assert "(3, " in rows[0] and "(6, " in rows[1]  # interventions timed in each
    for row in rows:
        p50, p95, p99, worst = (float(c) for c in row.strip("|").split("|")[1:])
        assert 0 < p50 <= p95 <= p99 <= worst
