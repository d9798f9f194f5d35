"""The demo's git repository: a tiny Python package with tests and a scripted agent."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

AGENT_SOURCE = Path(__file__).with_name("agent.py")
BRANCH = "main"
AUTHOR = ("Agency Demo", "demo@agency.localhost")

FILES: dict[str, str] = {
    "README.md": (
        "# greeting\n\nA tiny package that Agent Agency's demo agent extends.\n"
        "Run the tests with `python -m pytest -q`.\n"
    ),
    # pythonpath lets `python -m pytest` import src/ without installing the package.
    "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n',
    # Gates run in the worktree; their caches must not count as changed files.
    ".gitignore": "__pycache__/\n*.pyc\n.pytest_cache/\n",
    "src/greeting.py": (
        '"""Greetings."""\n\n\n'
        "def greet(name: str) -> str:\n"
        '    """Greet someone by name."""\n'
        '    return f"Hello, {name}!"\n'
    ),
    "tests/test_greeting.py": (
        "from greeting import greet\n\n\n"
        "def test_greet_names_the_person() -> None:\n"
        '    assert greet("Ada") == "Hello, Ada!"\n'
    ),
    "docs/ops.md": "# Operations\n\nDeploy by tagging a release.\n",
}


def git(repo: Path, *args: str) -> str:
    # Identity and signing are pinned so that the user's global git config cannot break
    # (or sign) the demo's commits.
    name, email = AUTHOR
    completed = subprocess.run(
        [
            "git",
            "-c",
            f"user.name={name}",
            "-c",
            f"user.email={email}",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return completed.stdout.strip()


def make_demo_repo(path: Path, *, replace: bool = False) -> str:
    """Create the demo repository at `path` (branch main, one commit); returns that commit.

    Refuses to touch an existing non-empty directory unless `replace` is set, so that a
    wrong path cannot wipe someone's work.
    """
    path = path.resolve()
    if path.exists() and any(path.iterdir()):
        if not replace:
            raise FileExistsError(f"{path} exists and is not empty")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    for relative, content in FILES.items():
        target = path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    agent = path / "tools" / "agent.py"
    agent.parent.mkdir(parents=True, exist_ok=True)
    agent.write_text(AGENT_SOURCE.read_text(encoding="utf-8"), encoding="utf-8")
    agent.chmod(0o755)

    git(path, "init", "-q", "-b", BRANCH)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "Initial demo project")
    return git(path, "rev-parse", "HEAD")


def branch_head(repo: Path, branch: str = BRANCH) -> str:
    return git(repo, "rev-parse", f"refs/heads/{branch}")
