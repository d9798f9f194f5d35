"""Reading governance files (policy, waivers, CAWS specs) from disk or from a git repo.

The council is pure; this is where its inputs come from. CAWS repositories keep them in
`.caws/policy.yaml`, `.caws/waivers/*.yaml` and `.caws/specs/*.yaml`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import git
import yaml

from agency.settings import Settings

CAWS_DIR = ".caws"


class GovernanceFileError(ValueError):
    """A governance file is missing or unreadable; the message names it."""


def read_yaml_text(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise GovernanceFileError(f"{where}: not valid YAML ({err})") from err


def read_yaml_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise GovernanceFileError(f"{path}: cannot read ({err.strerror})") from err
    return read_yaml_text(text, str(path))


def local_repo(repo: str) -> git.Repo | None:
    """The repository at a local path (or file:// URL); None for remote URLs."""
    path = repo.removeprefix("file://")
    if "://" in path or path.startswith("git@"):
        return None
    try:
        return git.Repo(path)
    except (git.NoSuchPathError, git.InvalidGitRepositoryError) as err:
        raise GovernanceFileError(f"repo {repo!r} is not a git repository") from err


def read_repo_file(repo: git.Repo, ref: str, path: str) -> str | None:
    """A file's text at a ref, or None when it does not exist there."""
    try:
        return repo.git.show(f"{ref}:{path}")
    except git.GitCommandError:
        return None


def repo_files_under(repo: git.Repo, ref: str, directory: str) -> Iterator[tuple[str, str]]:
    try:
        names = repo.git.ls_tree("--name-only", f"{ref}:{directory}").splitlines()
    except git.GitCommandError:
        return
    for name in sorted(names):
        if name.endswith((".yaml", ".yml")):
            text = read_repo_file(repo, ref, f"{directory}/{name}")
            if text is not None:
                yield f"{directory}/{name}", text


def load_policy_data(settings: Settings) -> dict[str, Any] | None:
    """The configured policy file, or None for the built-in default policy."""
    if settings.policy_file is None:
        return None
    data = read_yaml_file(settings.policy_file)
    if not isinstance(data, dict):
        raise GovernanceFileError(f"{settings.policy_file}: a policy must be a mapping")
    return data


def load_waiver_dir(directory: Path) -> list[tuple[str, Any]]:
    if not directory.is_dir():
        return []
    return [(str(p), read_yaml_file(p)) for p in sorted(directory.glob("*.y*ml"))]
