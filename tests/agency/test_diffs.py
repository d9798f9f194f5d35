from __future__ import annotations

import subprocess
from pathlib import Path

from agency.diffs import added_lines_by_file
from tests.support.repos import git, make_repo


def test_added_lines_come_from_a_real_git_diff(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "src" / "calc.py").write_text("def double(x):\n    return x + x\n\nTOKEN = 1\n")
    (repo / "new.txt").write_text("a\nb\n")
    (repo / "docs" / "ops.md").unlink()
    git(repo, "add", "-A")
    diff = subprocess.run(
        ["git", "-C", str(repo), "diff", "--cached"], capture_output=True, text=True, check=True
    ).stdout

    added = added_lines_by_file(diff)

    assert added["src/calc.py"] == ["    return x + x", "", "TOKEN = 1"]
    assert added["new.txt"] == ["a", "b"]
    assert "docs/ops.md" not in added  # a deletion adds nothing


def test_header_lines_are_not_counted_as_added() -> None:
    diff = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n+++not a header\n"
    assert added_lines_by_file(diff) == {"x": ["new", "++not a header"]}
