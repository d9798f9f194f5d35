"""promtool unit tests of the SLO rules, whose expected alerts our evaluator computes.

A scenario is a run of steps (one scrape interval each) with so many good and total
events per step. The same scenario becomes:

- counters in promtool's expanding notation (`0+10x12 125+5x6`), starting at 0 at time
  0, through a function that says which series of an SLO's selectors carry the good and
  the bad events (`SeriesOf`: the metrics' label sets are the caller's knowledge);
- samples for agency.slo.burn.evaluate, one per step, at the end of the step;
- at every check time, the alerts the evaluator says fire, as `exp_alerts`.

`promtool test rules` then fails on any disagreement between the rules Prometheus would
run and our evaluator. Windows and check times fall on the step grid, where a PromQL
increase counts exactly the samples our windows count (see agency/slo/burn.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Any

from pydantic import BaseModel, Field

from agency.slo.burn import Events, Sample, error_ratio, evaluate, threshold
from agency.slo.rules import ALERT_NAME, annotations
from agency.slo.spec import Slo, SloFile, duration_s

# Ratios closer than this to a threshold could compare differently in Go and in Python
# (floating point); a scenario that comes so close is refused rather than left to chance.
MARGIN = 1e-9

# (cumulative good, cumulative total) per step from 0 -> {series selector: cumulative values}
SeriesOf = Callable[[list[int], list[int]], dict[str, list[int]]]


class Stretch(BaseModel):
    """`steps` steps with `good` good events out of `total` in each."""

    steps: int = Field(ge=1)
    good: int = Field(ge=0)
    total: int = Field(ge=0)


class Scenario(BaseModel):
    name: str
    stretches: list[Stretch] = Field(min_length=1)
    # How often the expected alerts are checked, in steps.
    check_every: int = Field(default=6, ge=1)

    def deltas(self) -> list[tuple[int, int]]:
        """(good, total) of steps 1..n; step 0 is the counters' first sample, at 0."""
        return [(s.good, s.total) for s in self.stretches for _ in range(s.steps)]


class Check(BaseModel):
    at_s: int
    firing: list[str]


def expanding(values: Sequence[int]) -> str:
    """[0, 5, 10, 15, 16] -> '0+5x3 16': runs of a constant increase, promtool's notation
    (`a+bxn` is the n+1 values a, a+b, ..., a+n*b)."""
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i
        if i + 1 < len(values):
            step = values[i + 1] - values[i]
            j = i + 1
            while j + 1 < len(values) and values[j + 1] - values[j] == step:
                j += 1
            sign = "+" if step >= 0 else "-"
            parts.append(f"{values[i]}{sign}{abs(step)}x{j - i}")
        else:
            parts.append(str(values[i]))
        i = j + 1
    return " ".join(parts)


def samples_of(scenario: Scenario, step_s: int) -> list[Sample]:
    return [Sample(k * step_s, g, t) for k, (g, t) in enumerate(scenario.deltas(), start=1)]


def _close_call(slo_file: SloFile, slo: Slo, events: Events, at_s: int) -> str | None:
    """A window whose error ratio is within MARGIN of a threshold at `at_s`, if any."""
    for alert in slo_file.alerts:
        limit = threshold(alert, slo)
        for window in (alert.long, alert.short):
            ratio = error_ratio(*events.count(at_s, duration_s(window)))
            if ratio is not None and abs(ratio - limit) < MARGIN:
                return f"{window} ratio {ratio!r} at {at_s} s is too close to {limit!r}"
    return None


def checks(slo_file: SloFile, slo: Slo, scenario: Scenario, step_s: int) -> list[Check]:
    """What our evaluator says fires at each check time of `scenario`."""
    samples = samples_of(scenario, step_s)
    events = Events(samples)
    out = []
    for k in range(scenario.check_every, len(samples) + 1, scenario.check_every):
        at_s = k * step_s
        close = _close_call(slo_file, slo, events, at_s)
        if close is not None:
            raise ValueError(f"scenario {scenario.name} for {slo.name}: {close}")
        out.append(Check(at_s=at_s, firing=evaluate(slo_file, slo, samples, at_s).firing))
    return out


def promtool_group(
    slo_file: SloFile, slo: Slo, scenario: Scenario, series_of: SeriesOf, step_s: int
) -> tuple[dict[str, Any], list[Check]]:
    """One `tests:` entry of a promtool unit-test file, and the checks it makes."""
    deltas = scenario.deltas()
    good = [0, *accumulate(g for g, _ in deltas)]
    total = [0, *accumulate(t for _, t in deltas)]
    expected = checks(slo_file, slo, scenario, step_s)
    group = {
        "name": f"{slo.name}: {scenario.name}",
        "interval": f"{step_s}s",
        "input_series": [
            {"series": series, "values": expanding(values)}
            for series, values in series_of(good, total).items()
        ],
        "alert_rule_test": [
            {
                "eval_time": f"{check.at_s}s",
                "alertname": ALERT_NAME,
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": severity, "slo": slo.name},
                        "exp_annotations": annotations(slo, severity),
                    }
                    for severity in check.firing
                ],
            }
            for check in expected
        ],
    }
    return group, expected


def unit_test_file(rule_file: str, groups: list[dict[str, Any]], step_s: int) -> dict[str, Any]:
    return {"rule_files": [rule_file], "evaluation_interval": f"{step_s}s", "tests": groups}
