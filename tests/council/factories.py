"""Builders for council tests: a valid baseline that every judge passes, and small
changes to it that each trigger one rule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from council.judges.context import JudgeContext
from council.models import ChangedFile, Evidence, GateResult, Judgment
from council.policy import Policy, parse_policy
from council.spec import TaskSpec
from council.validation import parse_task_spec
from council.waivers import Waiver, parse_waiver

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

EXECUTION_FIELDS: dict[str, Any] = {
    "repo": "/srv/repos/app",
    "agent": {"argv": ["python", "tools/agent.py"], "timeout_s": 600},
    "gates": [{"name": "tests", "argv": ["pytest", "-q"]}],
}


def spec_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "FEAT-0042",
        "title": "Add retry with backoff to the HTTP client",
        "risk_tier": 2,
        "mode": "feature",
        "scope": {"in": ["src/http/", "tests/"], "out": ["src/db/"]},
        "invariants": ["public API unchanged"],
        "acceptance": [
            {"id": "A1", "given": "a flaky server", "when": "a GET fails twice", "then": "ok"}
        ],
        **EXECUTION_FIELDS,
    }
    data.update(overrides)
    return data


def make_spec(**overrides: Any) -> TaskSpec:
    return parse_task_spec(spec_data(**overrides))


def make_policy(**agency: Any) -> Policy:
    return parse_policy({"agency": agency} if agency else {})


def changed(path: str, added: int = 5, removed: int = 1, status: str = "modified") -> ChangedFile:
    return ChangedFile(path=path, added=added, removed=removed, status=status)  # type: ignore[arg-type]


def gate(name: str = "tests", passed: bool = True, **fields: Any) -> GateResult:
    return GateResult(name=name, passed=passed, exit_code=0 if passed else 1, **fields)


def result_evidence(**overrides: Any) -> Evidence:
    """A clean result: in scope, small, tested, agent and gates green."""
    data: dict[str, Any] = {
        "stage": "result",
        "agent_exit_code": 0,
        "changed_files": [
            changed("src/http/client.py", 10, 2),
            changed("tests/test_client.py", 20, 0),
        ],
        "gates": [gate()],
        "added_lines": {
            "src/http/client.py": ["def retry(fn, attempts=3):", "    return fn()"],
            "tests/test_client.py": ["def test_retry_a1():", "    assert True  # A1"],
        },
    }
    data.update(overrides)
    files = data["changed_files"]
    data.setdefault("lines_added", sum(f.added for f in files))
    data.setdefault("lines_removed", sum(f.removed for f in files))
    return Evidence(**data)


def plan_evidence() -> Evidence:
    return Evidence(stage="plan")


def make_ctx(
    spec: TaskSpec | None = None,
    evidence: Evidence | None = None,
    policy: Policy | None = None,
    waivers: dict[str, Waiver] | None = None,
    now: datetime = NOW,
) -> JudgeContext:
    return JudgeContext(
        spec=spec or make_spec(),
        policy=policy or make_policy(),
        waivers=waivers or {},
        evidence=evidence or result_evidence(),
        now=now,
    )


def waiver_data(**overrides: Any) -> dict[str, Any]:
    """A usable budget waiver for FEAT-0042: active, unexpired, two independent approvers."""
    data: dict[str, Any] = {
        "id": "WV-0100",
        "title": "Large generated client",
        "status": "active",
        "gates": ["budget_limit"],
        "reason_code": "legacy_integration",
        "applies_to": "FEAT-0042",
        "delta": {"max_files": 50, "max_loc": 5000},
        "risk_owner": "alice",
        "approvers": [{"handle": "bob"}, {"handle": "carol"}],
        "created_at": "2026-11-01T00:00:00Z",
        "expires_at": "2027-01-31T00:00:00Z",
    }
    data.update(overrides)
    return data


def make_waiver(**overrides: Any) -> Waiver:
    return parse_waiver(waiver_data(**overrides))


def rules(judgment: Judgment) -> set[str]:
    return {v.rule for v in judgment.violations}


def severity_of(judgment: Judgment, rule: str) -> str:
    matches = [v.severity for v in judgment.violations if v.rule == rule]
    assert matches, f"{rule} not in {rules(judgment)}"
    return matches[0]
