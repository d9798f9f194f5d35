"""Reading governance files (policy, waivers, CAWS specs) from disk or from a git repo.

The council is pure; this is where its inputs come from. CAWS repositories keep them in
`.caws/policy.yaml`, `.caws/waivers/*.yaml` and `.caws/specs/*.yaml` (see
`agency.caws_repo` for every place they are looked for). A repository is read either at
a commit (`GitFiles`: what a task runs against) or as its working tree (`WorktreeFiles`:
what `agency caws check` sees in a checkout, uncommitted edits included).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

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


def load_policy_data(settings: Settings) -> dict[str, Any] | None:
    """The configured policy file, or None for the built-in default policy."""
    if settings.policy_file is None:
        return None
    data = read_yaml_file(settings.policy_file)
    if not isinstance(data, dict):
        raise GovernanceFileError(f"{settings.policy_file}: a policy must be a mapping")
    return data


class RepoFiles(Protocol):
    """A repository's files, at a commit or in a working tree. Paths are POSIX, relative
    to the repository root; nothing outside the root can be named."""

    # Where the files come from, for messages: "main (1a2b3c4)", "the working tree".
    where: str

    def read(self, path: str) -> str | None:
        """The file's text, or None when there is no such file."""
        ...

    def listdir(self, directory: str) -> list[str]:
        """Names of the files (not directories) directly in `directory`, sorted."""
        ...

    def tree(self) -> list[str]:
        """Every file of the repository (tracked, for a working tree also untracked files
        that are not ignored)."""
        ...


def _inside(path: str) -> str:
    """A relative path that stays in the repository ("" for its root), or
    GovernanceFileError."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if path.startswith("/") or ".." in parts:
        raise GovernanceFileError(f"{path!r} is not a path inside the repository")
    return "/".join(parts)


class GitFiles:
    """A repository's files at one commit."""

    def __init__(self, repo: git.Repo, ref: str) -> None:
        self.repo = repo
        self.ref = ref
        try:
            commit = repo.commit(ref)
        except (git.BadName, ValueError, git.GitCommandError) as err:
            raise GovernanceFileError(f"{ref!r} does not exist in {repo.working_dir}") from err
        self.commit = commit.hexsha
        self.where = f"{ref} ({commit.hexsha[:7]})"

    def read(self, path: str) -> str | None:
        return read_repo_file(self.repo, self.commit, _inside(path))

    def listdir(self, directory: str) -> list[str]:
        try:
            out = self.repo.git.ls_tree("-z", f"{self.commit}:{_inside(directory)}")
        except git.GitCommandError:
            return []
        names = []
        for entry in out.split("\0"):
            meta, _, name = entry.partition("\t")
            if name and meta.split(" ")[1:2] == ["blob"]:
                names.append(name)
        return sorted(names)

    def tree(self) -> list[str]:
        out = self.repo.git.ls_tree("-r", "-z", "--name-only", self.commit)
        return [name for name in out.split("\0") if name]


class WorktreeFiles:
    """A checkout's files as they are on disk."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise GovernanceFileError(f"{root} is not a directory")
        self.root = root.resolve()
        self.where = "the working tree"

    def _path(self, path: str) -> Path:
        return self.root / _inside(path)

    def read(self, path: str) -> str | None:
        target = self._path(path)
        if not target.is_file():
            return None
        try:
            return target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise GovernanceFileError(f"{path}: cannot read ({err})") from err

    def listdir(self, directory: str) -> list[str]:
        target = self._path(directory)
        if not target.is_dir():
            return []
        return sorted(p.name for p in target.iterdir() if p.is_file())

    def tree(self) -> list[str]:
        try:
            # In a git checkout git knows the files (and skips ignored build output).
            out = git.Repo(self.root).git.ls_files("-z", "-c", "-o", "--exclude-standard")
            return [name for name in out.split("\0") if name]
        except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError):
            pass
        files = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            base = Path(dirpath).relative_to(self.root).as_posix()
            files += [name if base == "." else f"{base}/{name}" for name in filenames]
        return files
