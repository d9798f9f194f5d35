"""Parsing `git diff -z` output, against real git, including paths git would otherwise quote."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agency.executor.changes import build_changeset, parse_numstat, parse_raw, unsafe_entries
from tests.agency.executor.conftest import git, make_repo


def diff(repo: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(repo), "diff", "--cached", "-M", *args, "-z", "HEAD"],
        check=True,
        capture_output=True,
    ).stdout


def test_awkward_paths_and_renames_are_parsed_exactly(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"tab\there.txt": "1\n2\n3\n4\n5\n6\n", "plain": "p\n"})
    (repo / "tab\there.txt").rename(repo / "new\nline.txt")  # rename with a newline in it
    (repo / '"quoted" ü.txt').write_text("q\n")
    (repo / "plain").write_text("p\nq\n")
    git(repo, "add", "--all")
    raw = parse_raw(diff(repo, "--raw"))
    numstat = parse_numstat(diff(repo, "--numstat"))
    changes = build_changeset(raw, numstat)
    rows = {(f.path, f.status, f.added, f.removed) for f in changes.files}
    assert rows == {
        ("new\nline.txt", "renamed", 0, 0),
        ('"quoted" ü.txt', "added", 1, 0),
        ("plain", "modified", 1, 0),
    }
    assert (changes.lines_added, changes.lines_removed) == (2, 0)
    assert unsafe_entries(repo, raw) == []


def test_a_symlink_entry_leading_out_is_unsafe(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "etc").symlink_to("/etc")
    (repo / "fine").symlink_to("README.md")
    git(repo, "add", "--all")
    raw = parse_raw(diff(repo, "--raw"))
    reasons = unsafe_entries(repo, raw)
    assert len(reasons) == 1 and reasons[0].startswith("etc is a symlink")
