"""The demo's report: per task, what was expected, what happened, and PASS or FAIL."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agency.cli.render import verdict_text
from agency.demo.runner import Outcome


def outcome_panel(outcome: Outcome) -> Panel:
    task = outcome.task or {}
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("task", Text(outcome.task_id or "(not submitted)"))
    grid.add_row("expected", Text(outcome.scenario.expected))
    actual = Text(str(task.get("phase") or "-"))
    if task.get("error"):
        actual.append(f" — {_brief(str(task['error']))}", style="red")
    grid.add_row("actual", actual)
    grid.add_row("judges", _judges(task))
    grid.add_row("applied", Text(str(task.get("applied_commit") or "nothing")))
    grid.add_row("provenance", _provenance(outcome.provenance))
    for note in outcome.notes:
        grid.add_row("note", Text(note, style="dim"))
    for failure in outcome.failures:
        grid.add_row("problem", Text(failure, style="red"))
    verdict = Text("PASS", style="bold green") if outcome.passed else Text("FAIL", "bold red")
    grid.add_row("result", verdict)
    title = f"{outcome.scenario.spec['id']} · {outcome.scenario.title}"
    return Panel(grid, title=title, title_align="left", border_style=_border(outcome), expand=False)


def demo_report(outcomes: list[Outcome]) -> RenderableType:
    passed = sum(outcome.passed for outcome in outcomes)
    style = "bold green" if passed == len(outcomes) else "bold red"
    summary = Text(f"{passed}/{len(outcomes)} scenarios came out as described", style=style)
    return Group(*(outcome_panel(outcome) for outcome in outcomes), summary)


def _judges(task: dict[str, object]) -> Text:
    text = Text()
    for judgment in task.get("verdicts") or []:  # type: ignore[union-attr]
        if not isinstance(judgment, dict):
            continue
        if text:
            text.append("\n")
        text.append(f"{judgment.get('judge')}: ")
        text.append_text(verdict_text(judgment.get("verdict")))
        for violation in judgment.get("violations") or []:
            text.append(
                f"\n    {violation.get('rule')} [{violation.get('severity')}]: "
                f"{violation.get('detail')}",
                style="dim",
            )
    return text or Text("none", style="dim")


def _provenance(report: dict[str, object] | None) -> Text:
    if report is None:
        return Text("not checked", style="dim")
    if report.get("verified"):
        text = Text("verified", style="bold green")
        text.append(
            f" — signature (kid {str(report.get('kid'))[:12]}…), database, Temporal history "
            f"and git commit {str(report.get('commit'))[:12]} all agree",
            style="green",
        )
        return text
    checks = report.get("checks") or []
    failed = [c.get("name") for c in checks if isinstance(c, dict) and c.get("status") == "fail"]
    return Text(f"NOT verified: {', '.join(map(str, failed)) or 'no record'}", style="bold red")


def _brief(text: str, limit: int = 160) -> str:
    # The judges' section below gives the details; the error line only says why.
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _border(outcome: Outcome) -> str:
    return "green" if outcome.passed else "red"
