"""Tasks as a user submits and checks them, over real HTTP, for the fault suite.

Every task gets a repository of its own (so tasks never compete for one branch) with
the scripted agent of tests/support/repos.py playing "slow": it prints a tick every
0.1 s for `seconds`, then edits src/calc.py and adds a test. The executor's log of that
output (under the executor's directory, which agents cannot see) tells the test that
an agent is running.

After a fault, `check_outcome` asserts what the fault must not change: the task ends as
it would have without it, its change is on the target branch exactly once, its signed
provenance record verifies, and its audit trail has no duplicate and no gap.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.repos import git, make_repo

TERMINAL = {"completed", "failed", "rejected", "canceled"}


@dataclass(frozen=True)
class Submitted:
    task_id: str
    repo: Path
    base: str


class Tasks:
    def __init__(self, api_url: str, key: str, repos: Path) -> None:
        self._http = httpx.Client(
            base_url=api_url, headers={"Authorization": f"Bearer {key}"}, timeout=10
        )
        self._repos = repos

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, within: float = 60, **kw: Any) -> httpx.Response:
        """The answer, riding out the moments a part is down (refused connections, 503):
        a client of a system under repair waits and tries again."""
        deadline = time.monotonic() + within
        while True:
            try:
                response = self._http.request(method, path, **kw)
                if response.status_code != 503:
                    return response
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{method} {path}: no answer within {within} s"
            time.sleep(0.3)

    def submit(self, seconds: float, gate: bool = True) -> Submitted:
        name = f"repo-{uuid.uuid4().hex[:8]}"
        repo = make_repo(self._repos / name)
        body = task_body(repo, seconds, gate)
        # The same key on every try: a POST retried after a lost answer is one task.
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        response = self._request("POST", "/api/v1/tasks", json=body, headers=headers)
        assert response.status_code in (200, 201, 202), response.text
        return Submitted(response.json()["id"], repo, git(repo, "rev-parse", "main"))

    def post(self, body: dict[str, Any]) -> str:
        """Submit a task body as it is; its id."""
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        response = self._request("POST", "/api/v1/tasks", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()["id"]  # type: ignore[no-any-return]

    def task(self, task_id: str) -> dict[str, Any]:
        response = self._request("GET", f"/api/v1/tasks/{task_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def wait_terminal(self, task_id: str, within: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            task = self.task(task_id)
            if task["phase"] in TERMINAL:
                return task
            assert time.monotonic() < deadline, f"task {task_id} still {task['phase']}"
            time.sleep(0.3)

    def audit(self, task_id: str) -> list[dict[str, Any]]:
        response = self._request("GET", f"/api/v1/tasks/{task_id}/audit")
        assert response.status_code == 200, response.text
        body = response.json()
        return body["items"] if isinstance(body, dict) else body  # type: ignore[no-any-return]

    def provenance(self, task_id: str, within: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            response = self._request("GET", f"/api/v1/tasks/{task_id}/provenance")
            assert response.status_code == 200, response.text
            report = response.json()
            if not report.get("pending") or time.monotonic() > deadline:
                return report  # type: ignore[no-any-return]
            time.sleep(0.5)

    def check_outcome(self, submitted: Submitted, expected: str = "completed") -> list[dict]:
        """The task ended as without the fault; returns its audit for case-specific checks."""
        task = self.wait_terminal(submitted.task_id)
        assert task["phase"] == expected, (task["phase"], task.get("error"))
        trailer = f"Agency-Task: {submitted.task_id}"
        carrying = git(submitted.repo, "log", "--all", "--format=%H", "--fixed-strings",
                       f"--grep={trailer}").split()  # fmt: skip
        if expected == "completed":
            # Exactly once: one commit on main past the base, the one carrying the trailer.
            assert git(submitted.repo, "rev-list", "--count", f"{submitted.base}..main") == "1"
            assert carrying == [git(submitted.repo, "rev-parse", "main")]
            assert task["applied_commit"] == carrying[0]
        else:
            assert carrying == []
        report = self.provenance(submitted.task_id)
        failed = [c for c in report["checks"] if c["status"] == "fail"]
        assert report["verified"] and not failed, failed
        audit = self.audit(submitted.task_id)
        seqs = [entry["seq"] for entry in audit]
        assert seqs == list(range(1, len(seqs) + 1)), f"audit gaps or duplicates: {seqs}"
        assert audit[-1]["action"] == expected
        return audit


def task_body(repo: Path, seconds: float, gate: bool = True) -> dict[str, Any]:
    """A task whose scripted agent ticks for `seconds`, then makes its change in `repo`."""
    return {
        "id": "FEAT-0042",
        "title": "Add triple",
        "risk_tier": 3,
        "mode": "feature",
        "scope": {"in": ["src/", "tests/"]},
        "invariants": ["double unchanged"],
        "acceptance": [{"id": "A1", "given": "3", "when": "tripled", "then": "9"}],
        "repo": str(repo),
        "agent": {
            "argv": ["python3", "tools/agent.py"],
            "timeout_s": 120,
            "env": {"AGENT_SCENARIO": "slow", "AGENT_SECONDS": str(seconds)},
        },
        "gates": (
            [{"name": "compiles", "argv": ["python3", "-m", "compileall", "-q", "src"]}]
            if gate
            else []
        ),
        "execution_mode": "auto",
        "max_iterations": 1,
    }


def agent_running(executor_dir: Path, count: int = 1) -> bool:
    """At least `count` agents have printed progress on this executor."""
    logs = executor_dir / "logs"
    if not logs.is_dir():
        return False
    ticking = 0
    for out in logs.glob("*/agent.stdout"):
        try:
            if out.stat().st_size > 0:
                ticking += 1
        except OSError:
            continue
    return ticking >= count
