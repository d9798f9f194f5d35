"""The evaluator: windows, budget, burn rates and the multiwindow, multi-burn-rate alerts."""

from __future__ import annotations

import pytest

from agency.slo.burn import Events, Sample, evaluate, threshold
from agency.slo.spec import SloFile, parse_slo_file

H = 3600.0
NOW = 1_000 * 86_400.0  # any time far from 0


@pytest.fixture
def slo_file() -> SloFile:
    return parse_slo_file(
        """
min_events: 10
slos:
  - name: s
    description: d
    objective: 0.99
    window: 30d
    good: {promql: g}
    total: {promql: t}
"""
    )


def steady(
    start: float, end: float, every: float, error_ratio: float, per: int = 100
) -> list[Sample]:
    """`per` events at every `every` seconds in (start, end], `error_ratio` of them bad."""
    out = []
    at = start + every
    while at <= end:
        out.append(Sample(at, per * (1 - error_ratio), per))
        at += every
    return out


def test_a_window_is_open_at_its_start_and_closed_at_its_end() -> None:
    events = Events([Sample(0, 1, 1), Sample(10, 0, 1), Sample(20, 1, 1)])
    assert events.count(20, 10) == (1, 1)  # (10, 20]: the sample at 10 is out
    assert events.count(20, 20) == (1, 2)
    assert events.count(19, 100) == (1, 2)  # the sample after `now` is out


def test_budget_and_burn_rates(slo_file: SloFile) -> None:
    slo = slo_file.slos[0]
    # 30 days at 0.5 % errors: half the budget spent, burning at 0.5.
    samples = steady(NOW - 30 * 86_400, NOW, H, 0.005)
    status = evaluate(slo_file, slo, samples, NOW)
    assert status.total == 100 * 30 * 24
    assert status.error_ratio == pytest.approx(0.005)
    assert status.error_budget_left == pytest.approx(0.5)
    burns = {w.window: w.burn_rate for w in status.windows}
    assert burns["1h"] == pytest.approx(0.5) and burns["3d"] == pytest.approx(0.5)
    assert status.firing == []
    later = evaluate(slo_file, slo, samples, NOW + 400)
    assert later.windows[0].window == "5m"
    assert later.windows[0].burn_rate is None  # no events in the last five minutes


def test_an_overspent_budget_is_negative(slo_file: SloFile) -> None:
    status = evaluate(slo_file, slo_file.slos[0], steady(NOW - 86_400, NOW, H, 0.03), NOW)
    assert status.error_budget_left == pytest.approx(-2.0)


def test_no_events_spend_nothing_and_fire_nothing(slo_file: SloFile) -> None:
    status = evaluate(slo_file, slo_file.slos[0], [], NOW)
    assert status.error_ratio is None and status.error_budget_left == 1.0
    assert status.firing == [] and all(not a.enough_events for a in status.alerts)


def test_a_fast_burn_pages(slo_file: SloFile) -> None:
    # A healthy day, then an hour at 20 %: burn 20 > 14.4 over 1h and over 5m.
    samples = steady(NOW - 25 * H, NOW - H, 300, 0.001) + steady(NOW - H, NOW, 300, 0.2)
    status = evaluate(slo_file, slo_file.slos[0], samples, NOW)
    assert "page" in status.firing
    page_1h = next(a for a in status.alerts if a.long == "1h")
    assert page_1h.firing and page_1h.burn_rate == 14.4


def test_the_short_window_ends_a_page_once_the_errors_stop(slo_file: SloFile) -> None:
    samples = steady(NOW - H, NOW - 600, 300, 0.3) + steady(NOW - 600, NOW, 300, 0.0)
    status = evaluate(slo_file, slo_file.slos[0], samples, NOW)
    one_hour = next(w for w in status.windows if w.window == "1h")
    assert one_hour.burn_rate is not None and one_hour.burn_rate > 14.4  # still high
    page_1h = next(a for a in status.alerts if a.long == "1h")
    assert not page_1h.firing  # but the last 5 minutes are clean


def test_a_slow_burn_opens_a_ticket_not_a_page(slo_file: SloFile) -> None:
    samples = steady(NOW - 2 * 86_400, NOW, 300, 0.04)  # burn 4
    status = evaluate(slo_file, slo_file.slos[0], samples, NOW)
    assert status.firing == ["ticket"]


def test_too_few_events_page_nobody(slo_file: SloFile) -> None:
    # One task an hour; the last one failed: a 100 % error ratio over the hour.
    samples = [Sample(NOW - k * H, 1, 1) for k in range(1, 6)] + [Sample(NOW - 60, 0, 1)]
    status = evaluate(slo_file, slo_file.slos[0], samples, NOW)
    assert status.windows[0].burn_rate == pytest.approx(100)  # 5m: the failure alone
    assert status.firing == []
    assert not any(a.enough_events for a in status.alerts)


def test_min_events_per_slo_overrides_the_file(slo_file: SloFile) -> None:
    slo = slo_file.slos[0].model_copy(update={"min_events": 1})
    samples = [Sample(NOW - 60, 0, 1)]
    assert evaluate(slo_file, slo, samples, NOW).firing == ["page", "ticket"]


def test_thresholds_are_burn_rate_times_budget(slo_file: SloFile) -> None:
    slo = slo_file.slos[0]
    assert [threshold(a, slo) for a in slo_file.alerts] == pytest.approx([0.144, 0.06, 0.03, 0.01])
