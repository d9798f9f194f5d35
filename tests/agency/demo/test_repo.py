"""The demo repository is a real git repo whose tests pass and whose agent edits as described."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agency.demo.repo import BRANCH, branch_head, make_demo_repo


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def git(repo: Path, *args: str) -> str:
    result = run(["git", *args], repo)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def changed(repo: Path) -> set[str]:
    # Not through git(): its strip() would eat the status column of the first line.
    result = run(["git", "status", "--porcelain", "--untracked-files=all"], repo)
    assert result.returncode == 0, result.stderr
    return {line[3:] for line in result.stdout.splitlines()}


def pytest_passes(repo: Path) -> subprocess.CompletedProcess[str]:
    # The same command the demo's gate runs.
    return run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], repo)


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("demo") / "repo"
    make_demo_repo(repo)
    return repo


def clone(demo_repo: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(demo_repo), str(copy))
    return copy


def test_repo_has_one_commit_on_main_and_a_clean_tree(demo_repo: Path) -> None:
    assert git(demo_repo, "symbolic-ref", "--short", "HEAD") == BRANCH
    assert git(demo_repo, "rev-list", "--count", "HEAD") == "1"
    assert branch_head(demo_repo) == git(demo_repo, "rev-parse", "HEAD")
    assert changed(demo_repo) == set()
    tracked = set(git(demo_repo, "ls-files").splitlines())
    assert {"src/greeting.py", "tests/test_greeting.py", "tools/agent.py"} <= tracked


def test_repo_tests_pass_and_leave_nothing_behind(demo_repo: Path, tmp_path: Path) -> None:
    work = clone(demo_repo, tmp_path)
    result = pytest_passes(work)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    # Caches from a gate run must not look like changes to the judges.
    assert changed(work) == set()


def test_in_scope_agent_edits_src_and_adds_a_test(demo_repo: Path, tmp_path: Path) -> None:
    work = clone(demo_repo, tmp_path)
    result = run([sys.executable, "tools/agent.py", "in_scope"], work)
    assert result.returncode == 0, result.stderr
    assert changed(work) == {"src/greeting.py", "tests/test_farewell.py"}
    assert "def farewell(" in (work / "src" / "greeting.py").read_text()
    tests = pytest_passes(work)
    assert tests.returncode == 0 and "2 passed" in tests.stdout, tests.stdout


def test_out_of_scope_agent_also_edits_docs(demo_repo: Path, tmp_path: Path) -> None:
    work = clone(demo_repo, tmp_path)
    result = run([sys.executable, "tools/agent.py", "out_of_scope"], work)
    assert result.returncode == 0, result.stderr
    assert changed(work) == {"src/greeting.py", "tests/test_farewell.py", "docs/ops.md"}
    assert pytest_passes(work).returncode == 0


def test_agent_is_idempotent_and_features_stack(demo_repo: Path, tmp_path: Path) -> None:
    work = clone(demo_repo, tmp_path)
    for _ in range(2):
        assert run([sys.executable, "tools/agent.py", "in_scope", "farewell"], work).returncode == 0
    assert run([sys.executable, "tools/agent.py", "in_scope", "shout"], work).returncode == 0
    source = (work / "src" / "greeting.py").read_text()
    assert source.count("def farewell(") == 1 and "def shout(" in source
    tests = pytest_passes(work)
    assert tests.returncode == 0 and "3 passed" in tests.stdout, tests.stdout


def test_agent_refuses_an_unknown_scenario(demo_repo: Path, tmp_path: Path) -> None:
    work = clone(demo_repo, tmp_path)
    result = run([sys.executable, "tools/agent.py", "sideways"], work)
    assert result.returncode == 2 and "usage" in result.stderr
    assert changed(work) == set()


def test_existing_directory_is_only_replaced_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "repo"
    target.mkdir()
    (target / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError):
        make_demo_repo(target)
    assert (target / "keep.txt").exists()
    first = make_demo_repo(target, replace=True)
    assert not (target / "keep.txt").exists()
    assert branch_head(target) == first
