"""What the Temporal web UI shows of a task beside its workflow id: a one-line static
summary (the task's title and id, in the workflow list) and static details (markdown, on
the workflow's page), set once when the workflow starts. The workflow's current details
(where it is now) are written by the workflow itself (workflows/visibility.py)."""

from __future__ import annotations

from domain.search_attributes import repo_label
from domain.task import TaskInput

# The UI shows the summary on one line of the list; a long title is cut.
MAX_TITLE = 120


def dashboard_url(api_url: str, task_id: str) -> str:
    """The task's page on the dashboard the API serves (api/ui)."""
    return f"{api_url.rstrip('/')}/ui/tasks/{task_id}"


def static_summary(inp: TaskInput) -> str:
    title = " ".join(inp.spec.title.split())
    if len(title) > MAX_TITLE:
        title = title[: MAX_TITLE - 1] + "…"
    return f"{title} · task {inp.task_id}"


def static_details(inp: TaskInput, api_url: str | None = None) -> str:
    """Markdown: what the task is, who asked for it, and a link to its dashboard page
    when the API's address is known."""
    spec = inp.spec
    lines = [
        f"**{spec.title}**",
        "",
        f"- task `{inp.task_id}`, CAWS spec `{spec.id}` ({spec.mode})",
        f"- execution mode {spec.execution_mode}, risk tier {spec.risk_tier}, "
        f"at most {spec.max_iterations} iterations",
        f"- repository `{repo_label(spec.repo)}` at `{spec.base_ref}`",
        f"- submitted by {inp.submitted_by} (tenant {inp.tenant})",
    ]
    if api_url:
        lines.append(f"- [dashboard]({dashboard_url(api_url, inp.task_id)})")
    return "\n".join(lines)
