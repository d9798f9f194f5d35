"""bench.intervention on a stack of its own: every pause and resume it sends is answered
and then seen in the API (timings are reported, not judged)."""

from __future__ import annotations

import pytest

from bench.intervention import run


@pytest.mark.timeout(180)
def test_each_intervention_is_timed_from_its_post_to_the_get_that_shows_it() -> None:
    report = run(interventions=6, tasks=2)
    assert report.startswith("6 interventions on 2 waiting task(s) at once")
    row = next(line for line in report.splitlines() if line.startswith("| pause / resume |"))
    p50, p95, p99, worst = (float(c) for c in row.strip("|").split("|")[1:])
    assert 0 < p50 <= p95 <= p99 <= worst
