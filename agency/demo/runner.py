"""Runs the demo's scenarios through the task API and judges their outcomes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agency.cli.client import ApiClient
from agency.cli.errors import CliError
from agency.cli.verify import fetch_provenance
from agency.demo.repo import branch_head
from agency.demo.scenarios import Scenario
from agency.stack import PROJECT_ROOT
from domain.phases import TERMINAL_PHASES

TASK_TIMEOUT_S = 300.0
POLL_S = 1.0
APPROVAL_REASON = "demo: diff reviewed, tests pass"
PROVENANCE_WAIT_S = 60.0


@dataclass
class Outcome:
    scenario: Scenario
    task_id: str | None = None
    task: dict[str, Any] | None = None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # `GET /tasks/{id}/provenance`: the signed record, verified.
    provenance: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return self.task is not None and not self.failures


@dataclass
class DemoRunner:
    client: ApiClient
    repo: Path
    # Environment for the `agency` subprocess: which API to talk to, where the key is.
    cli_env: dict[str, str]
    log: Callable[[str], None]
    # Raises when the stack under the API cannot go on (agency.stack.Stack.check: a part
    # that died during startup, or the supervisor itself failed; it restarts the rest).
    health_check: Callable[[], None] = lambda: None
    task_timeout_s: float = TASK_TIMEOUT_S

    def run(self, scenarios: list[Scenario]) -> list[Outcome]:
        return [self.run_one(scenario) for scenario in scenarios]

    def run_one(self, scenario: Scenario) -> Outcome:
        outcome = Outcome(scenario)
        try:
            before = branch_head(self.repo)
            task = self.client.submit(scenario.spec)
            outcome.task_id = task_id = str(task["id"])
            self.log(f"{scenario.key}: submitted {scenario.spec['id']} as task {task_id}")
            if scenario.approve_via_cli:
                task = self._follow(task_id, lambda t: t.get("pending_action") == "approve")
                if task.get("pending_action") != "approve":
                    outcome.failures.append(
                        f"never waited for approval (phase {task.get('phase')})"
                    )
                else:
                    outcome.notes.append("waited for approval (pending_action approve)")
                    self._approve_with_cli(task_id, outcome)
            task = self._follow(task_id, lambda _t: False)
            outcome.task = task
            if task.get("phase") not in TERMINAL_PHASES:
                outcome.failures.append(
                    f"not finished after {self.task_timeout_s:.0f}s (phase {task.get('phase')})"
                )
            outcome.failures += scenario.check(task, self.repo, before)
            if task.get("phase") in TERMINAL_PHASES:
                self._verify(task_id, outcome)
        except CliError as error:
            problems = "; ".join(f"{p.path}: {p.message}" for p in error.problems)
            outcome.failures.append(f"{error.message}{' — ' + problems if problems else ''}")
        return outcome

    def _verify(self, task_id: str, outcome: Outcome) -> None:
        # The record is signed as the workflow's last step, just after the final phase.
        report = fetch_provenance(self.client, task_id, PROVENANCE_WAIT_S)
        outcome.provenance = report
        if not report.get("verified"):
            failed = [c for c in report.get("checks", []) if c.get("status") == "fail"]
            named = "; ".join(f"{c['name']}: {c['detail']}" for c in failed)
            outcome.failures.append(f"provenance not verified — {named or 'no checks ran'}")
        else:
            self.log(f"  {task_id[:8]} provenance verified (commit {str(report['commit'])[:12]})")

    def _follow(self, task_id: str, stop: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Poll until `stop` holds or the task ends (or times out); log phase changes."""
        deadline = time.monotonic() + self.task_timeout_s
        last_phase = None
        while True:
            self.health_check()
            task = self.client.get_task(task_id)
            phase = task.get("phase")
            if phase != last_phase:
                self.log(f"  {task_id[:8]} → {phase} (iteration {task.get('iteration', 0)})")
                last_phase = phase
            if stop(task) or phase in TERMINAL_PHASES or time.monotonic() >= deadline:
                return task
            time.sleep(POLL_S)

    def _approve_with_cli(self, task_id: str, outcome: Outcome) -> None:
        # The real command line, in its own process: this proves the CLI path end to end.
        argv = [sys.executable, "-m", "agency.cli", "approve", task_id, "--reason", APPROVAL_REASON]
        self.log(f"  $ agency approve {task_id} --reason {APPROVAL_REASON!r}")
        try:
            completed = subprocess.run(
                argv, env=self.cli_env, capture_output=True, text=True, timeout=60, check=False
            )
        except subprocess.TimeoutExpired:
            outcome.failures.append("`agency approve` did not finish within 60s")
            return
        said = (completed.stdout + completed.stderr).strip()
        if completed.returncode != 0:
            outcome.failures.append(f"`agency approve` exited {completed.returncode}: {said}")
        else:
            outcome.notes.append(f"approved via `agency approve`: {said}")


def cli_env(api_url: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["AGENCY_API_URL"] = api_url
    env["AGENCY_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if part
    )
    return env
