"""Follow a task until it reaches a terminal phase.

On a terminal the task view is redrawn in place (rich.Live). Elsewhere (CI logs, pipes)
one line is printed per change of phase, iteration or pending action, then the final view,
so that logs show progress without a wall of redraws.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live

from agency.cli.client import ApiClient
from agency.cli.render import task_view
from domain.phases import TERMINAL_PHASES

POLL_INTERVAL_S = 1.0


def is_terminal(task: dict[str, Any]) -> bool:
    return task.get("phase") in TERMINAL_PHASES


def poll_until_terminal(
    client: ApiClient,
    task_id: str,
    *,
    interval_s: float = POLL_INTERVAL_S,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Quietly wait for the end; returns the last TaskPublic seen."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        task = client.get_task(task_id)
        if is_terminal(task) or (deadline is not None and time.monotonic() >= deadline):
            return task
        time.sleep(interval_s)


def watch_task(
    client: ApiClient,
    task_id: str,
    console: Console,
    *,
    interval_s: float = POLL_INTERVAL_S,
) -> dict[str, Any]:
    task = client.get_task(task_id)
    if is_terminal(task):
        console.print(task_view(task))
        return task
    if console.is_terminal:
        with Live(task_view(task), console=console, refresh_per_second=4) as live:
            while not is_terminal(task):
                time.sleep(interval_s)
                task = client.get_task(task_id)
                live.update(task_view(task))
        return task

    last: tuple[Any, ...] | None = None
    while True:
        marker = (task.get("phase"), task.get("iteration"), task.get("pending_action"))
        if marker != last:
            console.print(_progress_line(task), highlight=False, markup=False)
            last = marker
        if is_terminal(task):
            break
        time.sleep(interval_s)
        task = client.get_task(task_id)
    console.print(task_view(task))
    return task


def _progress_line(task: dict[str, Any]) -> str:
    line = f"{task.get('id')}: {task.get('phase')} (iteration {task.get('iteration', 0)})"
    if task.get("pending_action"):
        line += f", waiting for {task['pending_action']}"
    return line
