"""The rules `agency slo rules` prints: valid for promtool, and agreeing with our evaluator.

Every scenario runs against every default SLO: promtool evaluates the generated rules
over synthetic counters and compares the alerts with what agency.slo.burn computed from
the same events. Beside that agreement, each scenario asserts what it is about (a fast
burn pages, a quiet system does not, ...).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from agency.slo.promtest import Scenario, SeriesOf, Stretch, promtool_group, unit_test_file
from agency.slo.rules import rules_yaml
from agency.slo.spec import Slo, SloFile, load_slo_file
from tests.support.metrics import promtool as promtool_path

STEP_S = 300  # a scrape and evaluation every 5 minutes
PER_HOUR = 3600 // STEP_S
EVENTS_PER_STEP = 2000
BURN_STEPS = 11  # of the recovery scenario


def burning(slo: Slo, burn: float, hours: float) -> Stretch:
    """`hours` of traffic spending the budget at `burn` times the sustainable rate."""
    bad = round(burn * slo.error_budget * EVENTS_PER_STEP)
    return Stretch(steps=round(hours * PER_HOUR), good=EVENTS_PER_STEP - bad, total=EVENTS_PER_STEP)


def scenarios(slo: Slo) -> dict[str, Scenario]:
    return {
        # Two healthy hours, then an hour at 16x: pages within minutes.
        "fast burn": Scenario(
            name="fast burn",
            stretches=[burning(slo, 0.5, 2), burning(slo, 16, 1)],
            check_every=1,
        ),
        # A day and a half at 4x: a ticket, never a page (4 < 6 < 14.4).
        "slow burn": Scenario(name="slow burn", stretches=[burning(slo, 4, 36)]),
        # One event an hour for six hours, one of them failed: 100 % errors in the
        # hour it happened, but too few events for anyone to be woken.
        "quiet": Scenario(
            name="quiet",
            stretches=[
                Stretch(steps=PER_HOUR - 1, good=0, total=0),
                Stretch(steps=1, good=1, total=1),
                Stretch(steps=PER_HOUR - 1, good=0, total=0),
                Stretch(steps=1, good=1, total=1),
                Stretch(steps=PER_HOUR - 1, good=0, total=0),
                Stretch(steps=1, good=0, total=1),
                *[
                    s
                    for _ in range(3)
                    for s in (
                        Stretch(steps=PER_HOUR - 1, good=0, total=0),
                        Stretch(steps=1, good=1, total=1),
                    )
                ],
            ],
            check_every=1,
        ),
        # 55 minutes at 16x (55, not 60: no window's ratio then lands exactly on a
        # threshold), then clean traffic for seven hours: the alerts resolve.
        "recovery": Scenario(
            name="recovery",
            stretches=[burning(slo, 16, 55 / 60), burning(slo, 0, 7)],
            check_every=1,
        ),
    }


def series_of(slo: Slo) -> SeriesOf:
    """Concrete series under each default SLO's selectors: which carry the good events,
    which the bad, and (api_latency) traffic the SLO must leave out."""

    def bad(good: list[int], total: list[int]) -> list[int]:
        return [t - g for g, t in zip(good, total, strict=True)]

    def make(good: list[int], total: list[int]) -> dict[str, list[int]]:
        zero = [0] * len(good)
        if slo.name == "task_success":
            labels = 'risk_tier="1", mode="feature", execution_mode="auto"'
            return {
                f'agency_tasks_finished_total{{outcome="completed", {labels}}}': good,
                f'agency_tasks_finished_total{{outcome="failed", {labels}}}': bad(good, total),
                # Rejections are good; none here, but the series exists as in production.
                f'agency_tasks_finished_total{{outcome="rejected", {labels}}}': zero,
            }
        if slo.name == "approval_latency":
            # Bad: approvals that took longer than 4 h (in the +Inf bucket only).
            wait = "agency_task_approval_wait_seconds"
            return {
                f'{wait}_bucket{{outcome="approved", le="14400.0"}}': good,
                f'{wait}_bucket{{outcome="approved", le="+Inf"}}': total,
                f'{wait}_count{{outcome="approved"}}': total,
                # Canceled waits are not counted at all.
                f'{wait}_count{{outcome="canceled"}}': [10 * t for t in total],
            }
        if slo.name == "api_latency":
            hist = "agency_http_request_duration_seconds"
            route = 'route="/api/v1/tasks/{task_id}", method="GET"'
            stream = 'route="/api/v1/tasks/{task_id}/events", method="GET"'
            return {
                f'{hist}_bucket{{{route}, le="0.1"}}': good,
                f"{hist}_count{{{route}}}": total,
                # Event streams last minutes by design: slow, and not counted.
                f'{hist}_bucket{{{stream}, le="0.1"}}': zero,
                f"{hist}_count{{{stream}}}": [5 * t for t in total],
            }
        if slo.name == "api_availability":
            requests = 'agency_http_requests_total{route="/api/v1/tasks", method="GET"'
            return {
                f'{requests}, status="200"}}': good,
                f'{requests}, status="503"}}': bad(good, total),
                # A client's mistake is not the service's failure.
                f'{requests}, status="404"}}': zero,
            }
        raise AssertionError(f"no synthetic series for {slo.name}")

    return make


@pytest.fixture(scope="module")
def slo_file() -> SloFile:
    return load_slo_file()


@pytest.fixture(scope="module")
def rules(slo_file: SloFile, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("slo") / "rules.yml"
    path.write_text(rules_yaml(slo_file))
    return path


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_path(), *map(str, args)], capture_output=True, text=True, timeout=240
    )


def test_rules_pass_promtool_check(rules: Path, slo_file: SloFile) -> None:
    checked = promtool("check", "rules", rules)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    groups = yaml.safe_load(rules.read_text())["groups"]
    assert [g["name"] for g in groups] == [f"slo_{s.name}" for s in slo_file.slos]
    task_rules = {r.get("record") or r["alert"] for r in groups[0]["rules"]}
    assert "slo:agency_task_success:error_ratio_rate1h" in task_rules
    assert "slo:agency_task_success:events_increase3d" in task_rules


def test_promtool_and_the_evaluator_agree(rules: Path, slo_file: SloFile, tmp_path: Path) -> None:
    groups = []
    fired: dict[tuple[str, str], list[list[str]]] = {}
    for slo in slo_file.slos:
        for name, scenario in scenarios(slo).items():
            group, checks = promtool_group(slo_file, slo, scenario, series_of(slo), STEP_S)
            groups.append(group)
            fired[slo.name, name] = [c.firing for c in checks]
    tests = tmp_path / "slo-tests.yml"
    tests.write_text(yaml.safe_dump(unit_test_file(str(rules), groups, STEP_S), width=1000))

    result = promtool("test", "rules", tests)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    # And the scenarios show what they are about, for every SLO.
    for slo in slo_file.slos:
        fast = fired[slo.name, "fast burn"]
        assert fast[: 2 * PER_HOUR] == [[]] * (2 * PER_HOUR), slo.name  # healthy: quiet
        # At 16x the hour's ratio passes 14.4x within that hour (after ~55 minutes).
        first_page = next(i for i, f in enumerate(fast) if "page" in f)
        assert 2 * PER_HOUR < first_page < 3 * PER_HOUR, (slo.name, first_page)
        assert "page" in fast[-1], slo.name

        slow = fired[slo.name, "slow burn"]
        assert all("page" not in f for f in slow), slo.name
        assert all(f == ["ticket"] for f in slow), slo.name

        assert all(f == [] for f in fired[slo.name, "quiet"]), slo.name

        recovery = fired[slo.name, "recovery"]
        assert "page" in recovery[BURN_STEPS - 1], slo.name
        # Resolved once the 30-minute short window holds no bad step (the 5-minute one
        # would let it go at once; the 6h/30m pair keeps it half an hour).
        assert "page" not in recovery[BURN_STEPS + 30 // 5], slo.name
        assert recovery[-1] == [], slo.name  # and the ticket after its 6 h window
