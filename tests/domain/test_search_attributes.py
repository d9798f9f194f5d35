"""The search attributes' values and the summaries, as pure functions of a task's input."""

from __future__ import annotations

from pathlib import Path

from council.validation import parse_task_spec
from domain import search_attributes as sa
from domain.summaries import static_details, static_summary
from domain.task import TaskInput
from tests.support.repos import task_spec


def task(tmp_path: Path, **overrides: object) -> TaskInput:
    spec = parse_task_spec(task_spec(tmp_path, **overrides))
    return TaskInput(task_id="t-1", spec=spec, tenant="acme", submitted_by="alice")


def test_a_repository_url_loses_its_credentials_and_keeps_its_host_and_port() -> None:
    assert sa.repo_label("https://bob:ghp_secret@github.com/a/b.git") == (
        "https://github.com/a/b.git"
    )
    assert sa.repo_label("ssh://git@[::1]:2222/x.git") == "ssh://[::1]:2222/x.git"
    assert sa.repo_label("/srv/repos/app") == "/srv/repos/app"
    assert sa.repo_label("http://[broken") == "(unparsable repository URL)"


def test_the_start_attributes_say_what_the_task_is(tmp_path: Path) -> None:
    shown = sa.at_start(task(tmp_path, execution_mode="strict", risk_tier=1))
    assert shown.get(sa.PHASE) == "queued"
    assert shown.get(sa.AWAITING_APPROVAL) is False
    assert shown.get(sa.RISK_TIER) == 1
    assert shown.get(sa.MODE) == "strict"
    assert shown.get(sa.TENANT) == "acme"
    assert shown.get(sa.REPO) == str(tmp_path)
    assert {pair.key.name for pair in shown} == {key.name for key in sa.ALL}


def test_the_dev_server_gets_one_flag_per_attribute() -> None:
    args = sa.dev_server_args()
    assert args[0::2] == ["--search-attribute"] * len(sa.ALL)
    assert args[1::2] == [
        "AgencyPhase=Keyword",
        "AgencyRiskTier=Int",
        "AgencyMode=Keyword",
        "AgencyTenant=Keyword",
        "AgencyRepo=Keyword",
        "AgencyAwaitingApproval=Bool",
    ]


def test_the_summary_is_one_short_line_and_the_details_link_the_dashboard(
    tmp_path: Path,
) -> None:
    inp = task(tmp_path, title="Add   triple()\nand more " + "x" * 300)
    summary = static_summary(inp)
    assert "\n" not in summary and summary.endswith(" · task t-1") and len(summary) < 140
    details = static_details(inp, "http://agency.internal:8080/")
    assert "[dashboard](http://agency.internal:8080/ui/tasks/t-1)" in details
    assert "submitted by alice (tenant acme)" in details
    assert "dashboard" not in static_details(inp, None)
