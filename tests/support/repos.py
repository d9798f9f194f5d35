"""Real git repositories with a scriptable agent, for executor, workflow and API tests.

The agent (`tools/agent.py`, committed in the repo) does what AGENT_SCENARIO says:
  in_scope       edit src/calc.py and add a test in tests/ (a clean feature)
  out_of_scope   the same plus an edit to docs/ops.md, outside scope.in
  slow           print "tick" (flushed) every 0.1 s for AGENT_SECONDS seconds, then edit
                 src/calc.py and add a test; the executor's log of stdout shows progress
  refine         first iteration: add a failing test; once AGENCY_FEEDBACK is set, a passing one
  noop           change nothing
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

AGENT = r"""
import os, pathlib, sys, time

scenario = os.environ.get("AGENT_SCENARIO", "in_scope")
root = pathlib.Path.cwd()


def edit_source():
    path = root / "src" / "calc.py"
    path.write_text(path.read_text() + "\n\ndef triple(x):\n    return 3 * x\n")


def add_test(passing=True):
    expected = 9 if passing else 10
    (root / "tests" / "test_triple.py").write_text(
        "from src.calc import triple\n\n\n"
        f"def test_triple():\n    assert triple(3) == {expected}\n"
    )


if scenario == "in_scope":
    edit_source(); add_test()
elif scenario == "out_of_scope":
    edit_source(); add_test()
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs" / "ops.md").write_text("# ops\nchanged by the agent\n")
elif scenario == "slow":
    end = time.monotonic() + float(os.environ.get("AGENT_SECONDS", "5"))
    while time.monotonic() < end:
        print("tick", flush=True)
        time.sleep(0.1)
    edit_source(); add_test()
    if os.environ.get("AGENT_ALSO_DOCS"):
        (root / "docs" / "ops.md").write_text("# ops\nchanged by the agent\n")
elif scenario == "refine":
    edit_source(); add_test(passing=bool(os.environ.get("AGENCY_FEEDBACK")))
elif scenario == "noop":
    pass
else:
    sys.exit(f"unknown scenario {scenario}")
print(f"agent ran scenario {scenario}")
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(path: Path) -> Path:
    """A small Python project on branch main with one commit and a passing test."""
    (path / "src").mkdir(parents=True)
    (path / "tests").mkdir()
    (path / "tools").mkdir()
    (path / "src" / "__init__.py").write_text("")
    (path / "src" / "calc.py").write_text("def double(x):\n    return 2 * x\n")
    (path / "tests" / "__init__.py").write_text("")
    (path / "tests" / "test_calc.py").write_text(
        "from src.calc import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
    )
    (path / "tools" / "agent.py").write_text(AGENT)
    (path / "docs").mkdir()
    (path / "docs" / "ops.md").write_text("# ops\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "Test")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def task_spec(repo: Path, **overrides: object) -> dict[str, object]:
    """A valid task for `make_repo`'s repository; overrides replace top-level fields."""
    spec: dict[str, object] = {
        "id": "FEAT-0001",
        "title": "Add triple()",
        "risk_tier": 2,
        "mode": "feature",
        "scope": {"in": ["src/", "tests/"], "out": ["docs/"]},
        "invariants": ["double() unchanged"],
        "acceptance": [{"id": "A1", "given": "3", "when": "tripled", "then": "9"}],
        "repo": str(repo),
        "agent": {
            "argv": [sys.executable, "tools/agent.py"],
            "timeout_s": 60,
            "env": {"AGENT_SCENARIO": "in_scope"},
        },
        "gates": [
            {
                "name": "tests",
                "argv": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                "covers": ["A1"],
            }
        ],
        "execution_mode": "auto",
        "max_iterations": 2,
    }
    spec.update(overrides)
    return spec
