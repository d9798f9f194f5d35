"""The demo's three tasks, built in code, each with the outcome it must produce."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agency.demo.repo import BRANCH, branch_head

JUDGES = ("constitutional", "technical", "quality", "integration")
SCOPE = {"in": ["src/", "tests/"], "out": ["docs/"]}

# A check gets the final TaskPublic, the demo repo and the branch head before the task,
# and returns what did not come out as expected (empty when the scenario passed).
Check = Callable[[dict[str, Any], Path, str], list[str]]


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    expected: str
    spec: dict[str, Any]
    check: Check
    # Strict mode: the demo approves through the CLI once the task waits for it.
    approve_via_cli: bool = False


def build_scenarios(repo: Path, python: str) -> list[Scenario]:
    """`python` is the interpreter the agent and the gate run with inside the sandbox.

    The sandbox binds / read-only, so this venv's interpreter (with pytest) works there.
    """
    return [
        Scenario(
            key="auto",
            title="auto mode, change inside scope",
            expected="completed; applied to main; all four judges pass",
            spec=_spec(repo, python, "DEMO-001", "Add farewell()", "auto", "in_scope", "farewell"),
            check=_check_applied_with_all_passing,
        ),
        Scenario(
            key="scope",
            title="auto mode, change outside scope",
            expected="rejected; constitutional scope violation; nothing applied",
            spec=_spec(
                repo,
                python,
                "DEMO-002",
                "Add shout() and edit the ops runbook",
                "auto",
                "out_of_scope",
                # Not farewell: that is on main by now, and the change would be docs only.
                "shout",
                max_iterations=1,
            ),
            check=_check_rejected_for_scope,
        ),
        Scenario(
            key="strict",
            title="strict mode, approved through the CLI",
            expected="awaits approval; approved with `agency approve`; applied to main",
            spec=_spec(repo, python, "DEMO-003", "Add shout()", "strict", "in_scope", "shout"),
            check=_check_applied_with_all_passing,
            approve_via_cli=True,
        ),
    ]


def _spec(
    repo: Path,
    python: str,
    spec_id: str,
    title: str,
    execution_mode: str,
    scenario: str,
    feature: str,
    *,
    max_iterations: int = 2,
) -> dict[str, Any]:
    return {
        "id": spec_id,
        "title": title,
        "risk_tier": 2,
        "mode": "feature",
        "scope": SCOPE,
        "invariants": ["greet() keeps its output"],
        "acceptance": [
            {
                "id": "A1",
                "given": "the greeting package",
                "when": f"{feature}() is called with a name",
                "then": "it returns the expected text, and the test suite passes",
            }
        ],
        "repo": str(repo),
        "base_ref": BRANCH,
        "target_branch": BRANCH,
        "agent": {"argv": [python, "tools/agent.py", scenario, feature], "timeout_s": 120},
        "gates": [
            {
                "name": "tests",
                # No cache provider: the gate must not leave files in the worktree.
                "argv": [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                "covers": ["A1"],
                "timeout_s": 300,
            }
        ],
        "execution_mode": execution_mode,
        "max_iterations": max_iterations,
    }


def verdicts_by_judge(task: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(j.get("judge")): j for j in task.get("verdicts") or []}


def _check_applied_with_all_passing(task: dict[str, Any], repo: Path, _before: str) -> list[str]:
    problems: list[str] = []
    if task.get("phase") != "completed":
        problems.append(f"phase is {task.get('phase')}, expected completed")
    verdicts = verdicts_by_judge(task)
    for judge in JUDGES:
        verdict = verdicts.get(judge, {}).get("verdict")
        if verdict != "pass":
            problems.append(f"{judge} judge: {verdict or 'no verdict'}, expected pass")
    commit = task.get("applied_commit")
    if not commit:
        problems.append("no applied commit")
    elif branch_head(repo) != commit:
        problems.append(f"{BRANCH} is at {branch_head(repo)[:12]}, not the applied {commit[:12]}")
    return problems


def _check_rejected_for_scope(task: dict[str, Any], repo: Path, before: str) -> list[str]:
    problems: list[str] = []
    if task.get("phase") != "rejected":
        problems.append(f"phase is {task.get('phase')}, expected rejected")
    constitutional = verdicts_by_judge(task).get("constitutional", {})
    rules = [str(v.get("rule", "")) for v in constitutional.get("violations") or []]
    if not any("scope" in rule.lower() for rule in rules):
        problems.append(f"no constitutional scope violation (violations: {rules or 'none'})")
    if task.get("applied_commit"):
        problems.append(f"a commit was applied: {task['applied_commit']}")
    head = branch_head(repo)
    if head != before:
        problems.append(f"{BRANCH} moved from {before[:12]} to {head[:12]}")
    return problems
