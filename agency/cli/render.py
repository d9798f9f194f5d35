"""Rich renderings of API objects: task lists, one task, judges' verdicts, the audit trail."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

PHASE_STYLES = {
    "completed": "bold green",
    "failed": "bold red",
    "rejected": "bold red",
    "canceled": "yellow",
    "awaiting_approval": "bold magenta",
}
VERDICT_STYLES = {"pass": "green", "fail": "red", "uncertain": "yellow"}


def plain(value: Any) -> Text:
    """API strings go into tables as Text, so that brackets in them are not read as markup."""
    return Text("" if value is None else str(value))


def phase_text(task: dict[str, Any]) -> Text:
    phase = str(task.get("phase") or "?")
    text = Text(phase, style=PHASE_STYLES.get(phase, "cyan"))
    if task.get("paused"):
        text.append(" (paused)", style="yellow")
    return text


def verdict_text(verdict: str | None) -> Text:
    value = verdict or "-"
    return Text(value, style=VERDICT_STYLES.get(value, "dim"))


def verdict_summary(verdicts: list[dict[str, Any]]) -> Text:
    """`C✓ T✓ Q✗ I?`: one letter per judge, compact enough for a list row."""
    marks = {"pass": "✓", "fail": "✗", "uncertain": "?"}
    text = Text()
    for judgment in verdicts:
        verdict = str(judgment.get("verdict"))
        if text:
            text.append(" ")
        letter = str(judgment.get("judge", "?"))[:1].upper()
        text.append(f"{letter}{marks.get(verdict, '·')}", style=VERDICT_STYLES.get(verdict, ""))
    return text


def task_table(tasks: list[dict[str, Any]]) -> Table:
    table = Table(show_lines=False, header_style="bold")
    table.add_column("id", no_wrap=True)
    table.add_column("spec", no_wrap=True)
    table.add_column("title", overflow="ellipsis", no_wrap=True, ratio=1)
    table.add_column("mode", no_wrap=True)
    table.add_column("tier", justify="right", no_wrap=True)
    table.add_column("phase", no_wrap=True)
    table.add_column("iter", justify="right", no_wrap=True)
    table.add_column("judges", no_wrap=True)
    table.add_column("updated", no_wrap=True)
    for task in tasks:
        table.add_row(
            plain(task.get("id")),
            plain(task.get("caws_id")),
            plain(task.get("title")),
            plain(f"{task.get('mode') or ''}/{task.get('execution_mode') or ''}"),
            plain(task.get("risk_tier")),
            phase_text(task),
            f"{task.get('iteration', 0)}/{task.get('max_iterations', '?')}",
            verdict_summary(task.get("verdicts") or []),
            _short_time(task.get("updated_at")),
        )
    return table


def verdicts_table(verdicts: list[dict[str, Any]]) -> Table:
    table = Table(title="Council", title_justify="left", header_style="bold", expand=False)
    table.add_column("judge", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("conf.", justify="right")
    table.add_column("violations / rationale")
    for judgment in verdicts:
        table.add_row(
            plain(judgment.get("judge")),
            verdict_text(judgment.get("verdict")),
            _confidence(judgment.get("confidence")),
            _violations(judgment),
        )
    return table


def task_view(task: dict[str, Any]) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("task", plain(task.get("id")))
    grid.add_row("spec", plain(f"{task.get('caws_id') or ''}  {task.get('title') or ''}"))
    grid.add_row(
        "mode",
        plain(
            f"{task.get('mode') or '?'} · {task.get('execution_mode') or '?'} · "
            f"risk tier {task.get('risk_tier') or '?'}"
        ),
    )
    grid.add_row("phase", phase_text(task))
    grid.add_row("iteration", f"{task.get('iteration', 0)} of {task.get('max_iterations', '?')}")
    if task.get("pending_action"):
        grid.add_row(
            "pending",
            Text(f"{task['pending_action']} (agency {task['pending_action']} ID)", "magenta"),
        )
    decision = task.get("decision")
    if isinstance(decision, dict):
        grid.add_row("decision", _decision(decision))
    if task.get("changed_files") is not None:
        grid.add_row(
            "changes",
            f"{task.get('changed_files') or 0} files, "
            f"+{task.get('lines_added') or 0} -{task.get('lines_removed') or 0}",
        )
    if task.get("applied_commit"):
        grid.add_row("applied", Text(str(task["applied_commit"]), "green"))
    if task.get("error"):
        grid.add_row("error", Text(str(task["error"]), "red"))
    if task.get("submitted_by"):
        grid.add_row("submitted by", plain(task["submitted_by"]))
    if task.get("workflow_id"):
        grid.add_row("workflow", plain(task["workflow_id"]))
    parts: list[RenderableType] = [grid]
    warnings = task.get("warnings") or []
    if warnings:
        parts.append(warnings_text(warnings))
    verdicts = task.get("verdicts") or []
    if verdicts:
        parts.append(verdicts_table(verdicts))
    return Group(*parts)


def warnings_text(warnings: list[dict[str, Any]]) -> Text:
    """How the task's governance files were read: each warning with its rule id."""
    text = Text("warnings", style="bold yellow")
    for warning in warnings:
        where = ":".join(str(p) for p in (warning.get("file"), warning.get("path")) if p)
        text.append("\n  ! ", style="yellow")
        text.append(f"{warning.get('rule', '?')}", style="yellow")
        text.append(f"  {where + ': ' if where else ''}{warning.get('message', '')}")
    return text


def audit_table(entries: list[dict[str, Any]]) -> Table:
    table = Table(header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("at", no_wrap=True)
    table.add_column("actor", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("phase", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("approval", no_wrap=True)
    table.add_column("detail", overflow="fold", ratio=1)
    for entry in entries:
        table.add_row(
            plain(entry.get("seq")),
            _short_time(entry.get("at")),
            plain(entry.get("actor")),
            plain(entry.get("action")),
            plain(entry.get("phase")),
            verdict_text(entry.get("verdict")) if entry.get("verdict") else Text(""),
            plain(entry.get("approval_status")),
            plain(_detail(entry.get("detail"))),
        )
    return table


def _decision(decision: dict[str, Any]) -> Text:
    outcome = str(decision.get("outcome", "?"))
    style = {"approve": "green", "reject": "red"}.get(outcome, "yellow")
    text = Text(outcome, style=style)
    score, threshold = decision.get("score"), decision.get("threshold")
    if isinstance(score, int | float) and isinstance(threshold, int | float):
        text.append(f"  score {score:.2f} / threshold {threshold:.2f}", style="dim")
    for reason in decision.get("reasons") or []:
        text.append(f"\n{reason}", style="dim")
    return text


def _violations(judgment: dict[str, Any]) -> Text:
    text = Text()
    for violation in judgment.get("violations") or []:
        if text:
            text.append("\n")
        severity = str(violation.get("severity", ""))
        style = "bold red" if severity == "critical" else "red" if severity == "high" else "yellow"
        text.append(f"{violation.get('rule', '?')} [{severity}]", style=style)
        text.append(f": {violation.get('detail', '')}")
    if not text and judgment.get("rationale"):
        text.append(str(judgment["rationale"]), style="dim")
    if judgment.get("assessment"):
        # The model's written assessment (advisory unless the policy made it a vote).
        if text:
            text.append("\n")
        text.append("model: ", style="bold cyan")
        text.append(str(judgment["assessment"]), style="cyan")
    return text


def _confidence(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "-"


def _short_time(value: Any) -> Text:
    # ISO timestamps: the seconds are enough in a table.
    return Text(str(value or "").replace("T", " ")[:19])


def _detail(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, dict):
        text = ", ".join(f"{key}={_brief(item, 60)}" for key, item in value.items())
    else:
        text = str(value)
    # The full detail is in `agency audit --json`; a table row shows the gist.
    return _brief(text, 200)


def _brief(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
