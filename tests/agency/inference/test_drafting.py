"""The model agent's prompt and the diff taken from its reply."""

from __future__ import annotations

from pathlib import Path

from agency.inference.drafting import MAX_FILE_CHARS, draft_messages, extract_diff, scope_files
from council.validation import parse_task_spec
from tests.support.repos import git, make_repo, task_spec

DIFF = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"


def test_a_fenced_diff_is_taken_from_prose() -> None:
    reply = f"Here you go:\n```diff\n{DIFF}```\nHope it helps."
    assert extract_diff(reply) == (DIFF, True)


def test_an_unlabelled_fence_or_bare_diff_is_found() -> None:
    assert extract_diff(f"```\n{DIFF}```") == (DIFF, True)
    assert extract_diff(f"Sure.\ndiff --git a/x.py b/x.py\n{DIFF}") == (
        f"diff --git a/x.py b/x.py\n{DIFF}",
        True,
    )


def test_a_reply_without_a_diff_is_passed_on_for_git_to_refuse() -> None:
    assert extract_diff("I cannot do that") == ("I cannot do that\n", False)


def test_the_prompt_holds_the_task_and_the_files_in_scope(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "src" / "big.py").write_text("x = 1\n" * 2000)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "big")
    files = scope_files(str(repo), "HEAD", ["src/"])
    assert set(files) == {"src/__init__.py", "src/big.py", "src/calc.py"}
    assert len(files["src/big.py"]) == MAX_FILE_CHARS
    assert scope_files(str(repo), "HEAD", ["nothing/"]) == {}
    assert scope_files("https://example.invalid/repo.git", "HEAD", ["src/"]) == {}
    spec = parse_task_spec(task_spec(repo, agent={"model": "m", "prompt": "Add triple()."}))
    system, user = draft_messages(spec, {"src/calc.py": "def double(x): ..."}, "try again")
    assert "src/, tests/" in system.content
    assert "Add triple()." in user.content and "def double(x)" in user.content
    assert "try again" in user.content and "A1" in user.content
