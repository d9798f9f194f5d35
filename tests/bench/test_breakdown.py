"""bench.breakdown: the pure aggregation behind bench.e2e's per-phase breakdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.breakdown import (
    ActivitySpan,
    by_type_table,
    history_stats,
    history_table,
    percentile,
    phase_durations,
    phase_table,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def test_phase_durations_run_from_each_phase_to_the_next_and_the_last_to_close() -> None:
    events = [
        (at(10), "queued"),
        (at(10), "validating"),
        (at(100), "validating"),  # a second record in the same phase counts once
        (at(300), "executing"),
        (at(900), "completed"),
    ]
    got = phase_durations(events, started=at(0), closed=at(1000))
    assert got == pytest.approx(
        {
            "start → first record": 0.010,
            "queued": 0.0,
            "validating": 0.290,
            "executing": 0.600,
            "completed": 0.100,
        }
    )
    assert sum(got.values()) == pytest.approx(1.0)


def test_a_phase_entered_twice_adds_up_and_a_zero_start_gap_is_left_out() -> None:
    events = [(at(0), "executing"), (at(100), "gating"), (at(150), "executing")]
    got = phase_durations(events, started=at(0), closed=at(400))
    assert got == pytest.approx({"executing": 0.350, "gating": 0.050})


def test_phase_table_gives_p50_p95_per_phase_in_phase_order_missing_counts_zero() -> None:
    tasks = [{"executing": float(i), "validating": 0.1} for i in range(1, 21)]
    tasks.append({"validating": 0.1, "odd": 1.0})
    rows = phase_table(tasks, order=("validating", "executing"))
    assert [r[0] for r in rows] == ["validating", "executing", "odd"]
    assert rows[0][1:] == pytest.approx((0.1, 0.1))
    assert rows[1][1:] == (percentile([0.0, *range(1, 21)], 50), 19.0)
    assert rows[2][1:] == (0.0, 0.0)


def test_history_stats_split_queue_waits_work_and_time_outside_activities() -> None:
    spans = [
        ActivitySpan("record", at(100), at(110), at(150)),
        # two overlapping activities: the time they cover is counted once
        ActivitySpan("execute", at(200), at(260), at(500)),
        ActivitySpan("record", at(300), at(300), at(320)),
    ]
    s = history_stats(40, spans, started=at(0), closed=at(1000))
    assert (s.events, s.activities) == (40, 3)
    assert s.span == pytest.approx(1.0)
    assert s.queued == pytest.approx(0.070)
    assert s.working == pytest.approx(0.040 + 0.240 + 0.020)
    assert s.outside == pytest.approx(1.0 - 0.050 - 0.300)
    assert s.by_type["record"] == pytest.approx((2, 0.010, 0.060))

    table = dict((name, (p50, p95)) for name, p50, p95 in history_table([s, s]))
    assert table["activities per task"] == (3, 3)
    rows = by_type_table([s, s])
    assert [r[0] for r in rows] == ["execute", "record"]  # costliest first
    assert rows[1][1:] == pytest.approx((2.0, 0.010, 0.060))


def test_workflow_tasks_are_summed_and_the_first_one_is_reported_apart() -> None:
    wfts = [
        # listed out of order: the first is the one scheduled first, not listed first
        ActivitySpan("workflow task", at(300), at(302), at(310)),
        ActivitySpan("workflow task", at(0), at(5), at(45)),
    ]
    s = history_stats(
        30, [], started=at(0), closed=at(400), workflow_tasks=wfts, local_activities=4
    )
    assert (s.workflow_tasks, s.local_activities) == (2, 4)
    assert s.wft_queued == pytest.approx(0.007)
    assert s.wft_working == pytest.approx(0.048)
    assert s.first_wft_working == pytest.approx(0.040)
    table = dict((name, (p50, p95)) for name, p50, p95 in history_table([s]))
    assert table["local activities per task"] == (4, 4)
    assert table["first workflow task: started → completed (s)"] == pytest.approx((0.04, 0.04))
