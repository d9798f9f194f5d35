"""The demo's three specs are valid task specs, and its outcome checks catch deviations."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from agency.demo.repo import branch_head, make_demo_repo
from agency.demo.run import ci_requested
from agency.demo.scenarios import JUDGES, build_scenarios
from council.spec import TaskSpec


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenarios") / "repo"
    make_demo_repo(path)
    return path


def judgments(**verdicts: str) -> list[dict[str, Any]]:
    return [
        {"judge": judge, "verdict": verdicts.get(judge, "pass"), "violations": []}
        for judge in JUDGES
    ]


def test_specs_are_valid_and_cover_the_three_modes(repo: Path) -> None:
    scenarios = build_scenarios(repo, python=sys.executable)
    specs = [TaskSpec.model_validate(s.spec) for s in scenarios]
    assert [s.execution_mode for s in specs] == ["auto", "auto", "strict"]
    assert [s.approve_via_cli for s in scenarios] == [False, False, True]
    for spec in specs:
        assert spec.repo == str(repo)
        assert spec.gates[0].argv[0] == sys.executable
        assert spec.gates[0].covers == ["A1"]
    # The out-of-scope agent touches a path the scope excludes.
    assert "out_of_scope" in specs[1].agent.argv
    assert "docs/" in specs[1].scope.out


def test_applied_check_accepts_the_described_outcome_only(repo: Path) -> None:
    check = build_scenarios(repo, python=sys.executable)[0].check
    head = branch_head(repo)
    good = {"phase": "completed", "verdicts": judgments(), "applied_commit": head}
    assert check(good, repo, head) == []

    problems = check({**good, "verdicts": judgments(technical="fail")}, repo, head)
    assert problems == ["technical judge: fail, expected pass"]
    problems = check({**good, "applied_commit": "0" * 40}, repo, head)
    assert len(problems) == 1 and "not the applied" in problems[0]
    problems = check({**good, "phase": "failed", "applied_commit": None}, repo, head)
    assert "phase is failed, expected completed" in problems and "no applied commit" in problems


def test_scope_check_needs_a_scope_violation_and_an_unmoved_branch(repo: Path) -> None:
    check = build_scenarios(repo, python=sys.executable)[1].check
    head = branch_head(repo)
    verdicts = judgments(constitutional="fail")
    verdicts[0]["violations"] = [
        {"rule": "path_in_scope_out", "severity": "critical", "detail": "docs/ops.md"}
    ]
    good = {"phase": "rejected", "verdicts": verdicts, "applied_commit": None}
    assert check(good, repo, head) == []

    no_scope = {**good, "verdicts": judgments(constitutional="fail")}
    assert any("no constitutional scope violation" in p for p in check(no_scope, repo, head))
    moved = check(good, repo, "f" * 40)
    assert len(moved) == 1 and "moved" in moved[0]
    assert any("phase is completed" in p for p in check({**good, "phase": "completed"}, repo, head))


def test_ci_mode_from_flag_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert not ci_requested(False)
    assert ci_requested(True)
    for value in ("1", "true", "TRUE"):
        monkeypatch.setenv("CI", value)
        assert ci_requested(False)
    monkeypatch.setenv("CI", "0")
    assert not ci_requested(False)
