"""`agency caws list|check`: a repository's CAWS files as tasks read them, usable in CI
(exit 1 on any problem, 2 on bad input); and `agency show` listing a task's warnings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from agency.cli.main import app
from agency.cli.render import task_view
from tests.support.caws_repos import BROKEN_WAIVER, make_caws_repo
from tests.support.repos import git, make_repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_caws_repo(tmp_path_factory.mktemp("caws") / "repo")


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["caws", *args])


def test_list_shows_every_spec_with_version_and_validity(repo: Path) -> None:
    result = run("list", str(repo), "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    specs = {s["file"]: s for s in body["specs"]}
    assert (
        specs[".caws/specs/FEAT-0101.yaml"]["version"],
        specs[".caws/specs/FEAT-0101.yaml"]["valid"],
    ) == ("v11", True)
    assert (
        specs[".caws/working-spec.yaml"]["version"],
        specs[".caws/working-spec.yaml"]["valid"],
    ) == ("v10", True)
    assert specs[".caws/specs/test-feature.yaml"]["valid"] is False
    assert specs[".caws/agent-operating-spec.yaml"]["is_spec"] is False
    assert body["policy"]["file"] == ".caws/policy.yaml"
    waivers = {w["id"]: w["valid"] for w in body["waivers"]}
    assert [wid for wid, ok in waivers.items() if not ok] == [BROKEN_WAIVER]
    table = run("list", str(repo))
    assert table.exit_code == 0
    for text in ("FEAT-0101", "v10", "not a working spec", "problem", "policy: .caws/policy.yaml"):
        assert text in table.output


def test_check_fails_with_every_problem_and_its_rule_id(repo: Path) -> None:
    result = run("check", str(repo))
    assert result.exit_code == 1
    for rule in (
        "spec.migrate.blast_radius_modules_missing",  # test-feature.yaml
        "waiver.schema.invalid_approved_by",  # the broken waiver
        "agency.scope.prose_entry",  # a warning, printed too
    ):
        assert rule in result.output
    assert "agent-operating-spec.yaml: not a working spec, skipped" in result.output


def test_check_one_spec_by_id_passes_when_it_is_valid(repo: Path) -> None:
    for name in ("FEAT-0101", "FEAT-0102", ".caws/specs/CAWS-GIT-SPAWN-COST-001.yaml"):
        result = run("check", str(repo), name)
        assert result.exit_code == 0, result.output
    migrated = run("check", str(repo), "FEAT-0102", "--json")
    body = json.loads(migrated.output)
    assert body["ok"] is True
    assert "spec.migrate.mode_overridden_from_type" in {
        w["rule"] for w in body["specs"][0]["warnings"]
    }
    refused = run("check", str(repo), "test-feature")
    assert refused.exit_code == 1 and "spec.migrate.scope_in_missing" in refused.output


def test_check_a_clean_repository_passes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".caws" / "specs").mkdir(parents=True)
    spec = Path(__file__).parents[2] / "fixtures" / "caws_shapes" / "specs" / "FEAT-0101.yaml"
    (repo / ".caws" / "specs" / "FEAT-0101.yaml").write_text(spec.read_text())
    result = run("check", str(repo))
    assert result.exit_code == 0, result.output
    assert "1 spec(s), 0 waiver file(s)" in result.output and "0 problem(s)" in result.output
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a spec")
    # An edit not yet committed is what the working tree shows; --ref reads a commit.
    (repo / ".caws" / "specs" / "FEAT-0101.yaml").write_text("id: FEAT-0101\nmode: development\n")
    assert run("check", str(repo)).exit_code == 1
    assert run("check", str(repo), "--ref", "HEAD").exit_code == 0
    git(repo, "commit", "-q", "-am", "broken spec")
    assert run("check", str(repo), "--ref", "HEAD~1").exit_code == 0
    assert run("check", str(repo), "--ref", "HEAD").exit_code == 1


@pytest.mark.parametrize(
    "args",
    [
        ("check", "{repo}", "NOPE-404"),
        ("check", "{repo}/not-there"),
        ("list", "{repo}/not-there"),
        ("check", "{repo}", "--ref", "no-such-ref"),
    ],
)
def test_bad_input_exits_2(repo: Path, args: tuple[str, ...]) -> None:
    result = run(*(a.format(repo=repo) for a in args))
    assert result.exit_code == 2, result.output


def test_show_lists_the_tasks_warnings() -> None:
    task = {
        "id": "t-1",
        "caws_id": "FEAT-0102",
        "phase": "completed",
        "warnings": [
            {
                "rule": "spec.migrate.safe_rename",
                "message": "v10 field 'status' read as v11 'lifecycle_state'",
                "path": "status",
                "file": ".caws/working-spec.yaml",
            }
        ],
    }
    console = Console(width=200, record=True, color_system=None)
    console.print(task_view(task))
    text = console.export_text()
    assert "warnings" in text
    assert "spec.migrate.safe_rename" in text and ".caws/working-spec.yaml:status" in text
