"""Finding a repository's CAWS files where CAWS (old and new) keeps them."""

from __future__ import annotations

import shutil
from pathlib import Path

import git
import pytest

from agency.caws_repo import (
    find_spec_files,
    policy_fallback_warning,
    read_policy,
    read_specs,
    read_waiver_dir,
    read_waivers,
    resolve_spec,
)
from agency.governance_files import GitFiles, GovernanceFileError, WorktreeFiles
from agency.settings import Settings
from council.caws import RepoTree
from tests.support.caws_repos import BROKEN_WAIVER, SHAPES, make_caws_repo
from tests.support.repos import git as run_git


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_caws_repo(tmp_path_factory.mktemp("caws") / "repo")


def at_head(repo: Path) -> GitFiles:
    return GitFiles(git.Repo(repo), "HEAD")


def test_specs_are_found_in_every_layout(repo: Path) -> None:
    found = dict(find_spec_files(at_head(repo)))
    assert found[".caws/specs/FEAT-0101.yaml"] is False
    assert found[".caws/working-spec.yaml"] is False  # the v10 singleton
    assert found[".caws/docs-spec.yaml"] is True  # older layout
    assert found[".caws/agent-operating-spec.yaml"] is True
    assert ".caws/policy.yaml" not in found
    assert len([p for p in found if p.startswith(".caws/specs/")]) == 8


def test_each_spec_read_with_its_version_and_outcome(repo: Path) -> None:
    files = at_head(repo)
    specs = {s.path: s.reading for s in read_specs(files, RepoTree.of(files.tree()))}
    assert specs[".caws/specs/FEAT-0101.yaml"].valid
    assert specs[".caws/working-spec.yaml"].version == "v10"
    assert specs[".caws/working-spec.yaml"].valid
    assert not specs[".caws/specs/test-feature.yaml"].valid
    assert specs[".caws/agent-operating-spec.yaml"].is_spec is False
    # Scope entries are checked against the repository's files.
    real = specs[".caws/specs/CAWS-GIT-SPAWN-COST-001.yaml"]
    assert real.valid and "agency.scope.path_not_found" in {w.rule for w in real.warnings}
    prose = specs[".caws/specs/PROSE-0002.yaml"]
    assert [w.rule for w in prose.warnings] == ["agency.scope.prose_entry"]


@pytest.mark.parametrize(
    ("name", "path"),
    [
        (".caws/specs/FEAT-0101.yaml", ".caws/specs/FEAT-0101.yaml"),
        ("FEAT-0101", ".caws/specs/FEAT-0101.yaml"),  # file name
        ("FEAT-0102", ".caws/working-spec.yaml"),  # the id written inside
        ("DOCS-0007", ".caws/docs-spec.yaml"),
        ("NOPE-1", None),
    ],
)
def test_a_spec_is_named_by_path_file_name_or_id(repo: Path, name: str, path: str | None) -> None:
    assert resolve_spec(at_head(repo), name) == path


def test_waivers_are_read_one_by_one(repo: Path) -> None:
    readings = {r.waiver_id: r for r in read_waivers(at_head(repo))}
    assert len(readings) == 6
    assert [wid for wid, r in readings.items() if not r.valid] == [BROKEN_WAIVER]
    assert readings["WV-0200"].generation == "v10"


def test_policy_yaml_first_then_the_older_tier_policy_then_none(tmp_path: Path) -> None:
    repo = make_caws_repo(tmp_path / "repo", policy=False)
    files = WorktreeFiles(repo)
    assert read_policy(files).file is None
    (repo / ".caws" / "policy").mkdir()
    shutil.copy(SHAPES / "policy" / "tier-policy.json", repo / ".caws" / "policy")
    legacy = read_policy(files)
    assert legacy.file == ".caws/policy/tier-policy.json" and legacy.problems == []
    assert [w.rule for w in legacy.warnings] == ["agency.policy.legacy_tier_policy"]
    assert legacy.data is not None and legacy.data["risk_tiers"]["3"]["max_files"] == 1
    (repo / ".caws" / "policy.yaml").write_text("version: 1\n")
    assert read_policy(files).file == ".caws/policy.yaml"
    (repo / ".caws" / "policy.yaml").write_text("risk_tiers: {'1': {max_files: 0}}\n")
    broken = read_policy(files)
    assert broken.problems and broken.problems[0].rule == "agency.policy.invalid"


def test_the_fallback_policy_is_said(tmp_path: Path) -> None:
    defaults = policy_fallback_warning(Settings(data_dir=tmp_path), "main (abc1234)")
    assert defaults.rule == "agency.policy.defaults"
    assert "built-in defaults" in defaults.message and "main (abc1234)" in defaults.message
    configured = Settings(data_dir=tmp_path, policy_file=tmp_path / "p.yaml")
    assert "p.yaml" in policy_fallback_warning(configured, "HEAD").message


def test_working_tree_sees_uncommitted_files_a_commit_does_not(tmp_path: Path) -> None:
    repo = make_caws_repo(tmp_path / "repo")
    (repo / ".caws" / "specs" / "NEW-1.yaml").write_text("id: NEW-1\n")
    assert ".caws/specs/NEW-1.yaml" in dict(find_spec_files(WorktreeFiles(repo)))
    assert ".caws/specs/NEW-1.yaml" not in dict(find_spec_files(at_head(repo)))
    assert "src/calc.py" in WorktreeFiles(repo).tree()
    run_git(repo, "rm", "-q", "--cached", "src/calc.py")
    assert "src/calc.py" in WorktreeFiles(repo).tree()  # untracked, not ignored


def test_paths_outside_the_repository_are_refused(repo: Path) -> None:
    for files in (at_head(repo), WorktreeFiles(repo)):
        with pytest.raises(GovernanceFileError):
            files.read("../outside.yaml")
    with pytest.raises(GovernanceFileError):
        GitFiles(git.Repo(repo), "no-such-ref")


def test_the_settings_waiver_directory_is_read_file_by_file(tmp_path: Path) -> None:
    directory = tmp_path / "waivers"
    directory.mkdir()
    shutil.copy(SHAPES / "waivers" / "WV-0100.yaml", directory)
    shutil.copy(SHAPES / "waivers" / "broken" / "WV-0304.yaml", directory)
    readings = {r.waiver_id: r.valid for r in read_waiver_dir(directory)}
    assert readings == {"WV-0100": True, "WV-0304": False}
    assert read_waiver_dir(tmp_path / "absent") == []
