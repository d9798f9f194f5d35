"""The SLO file: the default one reads, and a bad one is refused with every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from agency.slo.spec import (
    WORKBOOK_ALERTS,
    SloFileInvalid,
    duration_s,
    load_slo_file,
    parse_slo_file,
)

GOOD = """
slos:
  - name: task_success
    description: tasks not failed
    objective: 0.99
    window: 30d
    good: {promql: 'agency_tasks_finished_total{outcome!="failed"}'}
    total: {promql: agency_tasks_finished_total}
"""


def test_the_default_file_has_the_four_slos_and_the_workbook_alerts() -> None:
    slo_file = load_slo_file()
    assert [s.name for s in slo_file.slos] == [
        "task_success",
        "approval_latency",
        "api_latency",
        "api_availability",
    ]
    assert {s.name: s.objective for s in slo_file.slos} == {
        "task_success": 0.99,
        "approval_latency": 0.95,
        "api_latency": 0.95,
        "api_availability": 0.999,
    }
    assert slo_file.alerts == list(WORKBOOK_ALERTS)
    assert slo_file.min_events == 10
    assert slo_file.windows() == ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    assert slo_file.long_windows() == ["1h", "6h", "1d", "3d"]
    # The database judges the task and approval SLOs; only the metrics count HTTP.
    judged = [s.name for s in slo_file.slos if s.total.records is not None]
    assert judged == ["task_success", "approval_latency"]


def test_a_minimal_file_takes_the_defaults() -> None:
    slo_file = parse_slo_file(GOOD)
    slo = slo_file.slos[0]
    assert slo_file.min_events_of(slo) == 10
    assert slo.window_s == 30 * 86_400
    assert slo.error_budget == pytest.approx(0.01)


def test_every_problem_is_listed() -> None:
    text = """
min_events: 0
alerts:
  - {severity: page, long: 1h, short: 2h, burn_rate: 14.4}
  - {severity: pager, long: 1x, short: 5m, burn_rate: 0}
slos:
  - name: Task-Success
    description: d
    objective: 1.5
    window: 30d
    good: {promql: a, records: {kind: task_outcomes, outcomes: [completed]}}
    total: {promql: b}
    colour: blue
  - name: twice
    description: d
    objective: 0.9
    window: 30m
    good: {promql: a}
    total: {promql: ''}
  - name: twice
    description: d
    objective: 0.9
    window: 30d
    good: {promql: a, records: {kind: task_outcomes, outcomes: [exploded]}}
    total: {promql: a}
"""
    with pytest.raises(SloFileInvalid) as caught:
        parse_slo_file(text)
    paths = {p.path for p in caught.value.problems}
    assert {
        "min_events",
        "alerts[1].severity",
        "alerts[1].long",
        "alerts[1].burn_rate",
        "slos[0].name",
        "slos[0].objective",
        "slos[0].colour",
        "slos[1].total.promql",
        "slos[2].good.records.task_outcomes.outcomes[0]",
    } <= paths, paths
    message = str(caught.value)
    assert message.startswith("invalid SLO file: ")
    assert "is not a known field here" in message  # colour


def test_problems_across_fields_are_listed_together() -> None:
    text = """
alerts:
  - {severity: page, long: 1h, short: 2h, burn_rate: 14.4}
slos:
  - name: twice
    description: d
    objective: 0.9
    window: 30m
    good: {promql: a, records: {kind: task_outcomes, outcomes: [completed]}}
    total: {promql: b}
  - name: twice
    description: d
    objective: 0.9
    window: 30d
    good: {promql: a, records: {kind: task_outcomes, outcomes: [completed]}}
    total: {promql: b, records: {kind: approval_waits, outcomes: [approved]}}
"""
    with pytest.raises(SloFileInvalid) as caught:
        parse_slo_file(text)
    found = {(p.path, p.message) for p in caught.value.problems}
    assert ("slos[1].name", "'twice' twice") in found
    assert ("slos[0].window", "shorter than alerts[0].long (1h)") in found
    assert ("alerts[0].short", "must be shorter than 1h") in found
    mixed = [p.path for p in caught.value.problems if "good.records" in p.message]
    assert mixed == ["slos[0]", "slos[1]"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("slos: [", "not YAML"),
        ("- a list", "must be a mapping"),
        ("slos: []\nslos: []", "not YAML"),  # a key written twice
    ],
)
def test_not_a_slo_file(text: str, expected: str) -> None:
    with pytest.raises(SloFileInvalid, match=expected):
        parse_slo_file(text)


def test_a_missing_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(SloFileInvalid, match="cannot read"):
        load_slo_file(tmp_path / "nowhere.yaml")


def test_durations() -> None:
    assert [duration_s(d) for d in ("30s", "5m", "1h", "1d", "2w")] == [
        30,
        300,
        3600,
        86_400,
        14 * 86_400,
    ]
    for bad in ("0m", "1.5h", "1h30m", "h", "30"):
        with pytest.raises(ValueError, match="not a duration"):
            duration_s(bad)
