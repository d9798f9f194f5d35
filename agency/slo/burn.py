"""The SLO evaluator: error budget and burn rates over windows, and which alerts fire.

Pure: it reads events given as samples `(at, good, total)` (the events that happened at
`at`, in seconds since the epoch; not cumulative counters) and the time to judge at. The
database (agency/slo/records.py) gives one sample per event; metrics could give one per
scrape interval (the increase since the previous scrape).

A window of length w judged at `now` holds the samples with `now - w < at <= now`: the
events a PromQL `increase(counter[w])` counts when the counter is scraped on a grid that
`now` and w fall on (the rules' unit tests hold the two to the same answers).

Definitions (Google SRE workbook, "Alerting on SLOs"):

- error ratio over a window: (total - good) / total;
- burn rate: error ratio / (1 - objective): 1 spends the budget exactly over the SLO
  window, 14.4 spends 2 % of a 30-day budget in an hour;
- an alert fires when the error ratio exceeds `burn_rate * (1 - objective)` over both
  its long and its short window, and the long window holds at least `min_events`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate
from typing import NamedTuple

from pydantic import BaseModel, Field

from agency.slo.spec import BurnAlert, Slo, SloFile, duration_s


class Sample(NamedTuple):
    at: float
    good: float
    total: float


class Events:
    """Samples sorted by time, with running sums: any window counted in O(log n)."""

    def __init__(self, samples: Iterable[Sample]) -> None:
        ordered = sorted(samples, key=lambda s: s.at)
        self._at = [s.at for s in ordered]
        self._good = [0.0, *accumulate(s.good for s in ordered)]
        self._total = [0.0, *accumulate(s.total for s in ordered)]

    def count(self, now: float, window_s: float) -> tuple[float, float]:
        """(good, total) of the samples with now - window_s < at <= now."""
        start = bisect_right(self._at, now - window_s)
        end = bisect_right(self._at, now)
        return self._good[end] - self._good[start], self._total[end] - self._total[start]


def error_ratio(good: float, total: float) -> float | None:
    """None when there were no events: no ratio, and no alert (PromQL gives NaN)."""
    return (total - good) / total if total > 0 else None


def threshold(alert: BurnAlert, slo: Slo) -> float:
    """The error ratio above which `alert` fires for `slo`: computed once, here, for both
    the evaluator and the Prometheus rules, so that the two compare the same number."""
    return alert.burn_rate * slo.error_budget


class WindowStatus(BaseModel):
    window: str
    good: float
    total: float
    error_ratio: float | None
    burn_rate: float | None = Field(description="error ratio / (1 - objective)")


class AlertStatus(BaseModel):
    severity: str
    long: str
    short: str
    burn_rate: float = Field(description="the burn rate both windows must exceed")
    firing: bool
    # Why not, when not: a quiet long window is not the same as a healthy one.
    enough_events: bool


class SloStatus(BaseModel):
    name: str
    description: str
    objective: float
    window: str
    good: float = Field(description="good events in the SLO window")
    total: float = Field(description="events in the SLO window")
    error_ratio: float | None
    error_budget_left: float = Field(
        description="share of the window's error budget not spent (negative: overspent)"
    )
    min_events: int
    windows: list[WindowStatus]
    alerts: list[AlertStatus]
    firing: list[str] = Field(description="severities of the alerts firing (page, ticket)")


def budget_left(slo: Slo, good: float, total: float) -> float:
    """1 - bad / allowed bad; 1 with no events (nothing spent)."""
    if total <= 0:
        return 1.0
    return 1 - (total - good) / (slo.error_budget * total)


def window_status(slo: Slo, events: Events, now: float, window: str) -> WindowStatus:
    good, total = events.count(now, duration_s(window))
    ratio = error_ratio(good, total)
    return WindowStatus(
        window=window,
        good=good,
        total=total,
        error_ratio=ratio,
        burn_rate=None if ratio is None else ratio / slo.error_budget,
    )


def alert_status(
    slo: Slo, alert: BurnAlert, events: Events, now: float, min_events: int
) -> AlertStatus:
    limit = threshold(alert, slo)
    long_good, long_total = events.count(now, duration_s(alert.long))
    short_good, short_total = events.count(now, duration_s(alert.short))
    long_ratio = error_ratio(long_good, long_total)
    short_ratio = error_ratio(short_good, short_total)
    enough = long_total >= min_events
    firing = (
        enough
        and long_ratio is not None
        and short_ratio is not None
        and long_ratio > limit
        and short_ratio > limit
    )
    return AlertStatus(
        severity=alert.severity,
        long=alert.long,
        short=alert.short,
        burn_rate=alert.burn_rate,
        firing=firing,
        enough_events=enough,
    )


def evaluate(slo_file: SloFile, slo: Slo, samples: Iterable[Sample], now: float) -> SloStatus:
    """`slo` judged at `now` from `samples` (any order; those after `now` are ignored)."""
    events = Events(samples)
    good, total = events.count(now, slo.window_s)
    min_events = slo_file.min_events_of(slo)
    alerts = [alert_status(slo, a, events, now, min_events) for a in slo_file.alerts]
    firing = sorted({a.severity for a in alerts if a.firing}, key=["page", "ticket"].index)
    return SloStatus(
        name=slo.name,
        description=slo.description,
        objective=slo.objective,
        window=slo.window,
        good=good,
        total=total,
        error_ratio=error_ratio(good, total),
        error_budget_left=budget_left(slo, good, total),
        min_events=min_events,
        windows=[window_status(slo, events, now, w) for w in slo_file.windows()],
        alerts=alerts,
        firing=firing,
    )
