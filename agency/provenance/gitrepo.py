"""The provenance repository: one signed record per task, committed with trailers.

    tasks/<task id>.jws     the compact JWS of the task's record
    keys/<kid>.jwk          public key (JWK) of every kid that signed a record here
    keys/<kid>.pem          the same public key as PEM, for openssl and other tools

Each record is its own commit, whose message ends with the trailers

    Agency-Task: <task id>
    Agency-Verdict: <outcome: completed | rejected | failed | canceled>
    Agency-Signature-Kid: <kid>

(plus Agency-Applied-Commit when a change was applied, the link to the target repository,
whose commit carries the same Agency-Task trailer). Several workers may commit at once:
a lock file in the git directory serialises them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import git

from agency.provenance.keystore import PublicKeyInfo

TASK_TRAILER = "Agency-Task"
VERDICT_TRAILER = "Agency-Verdict"
KID_TRAILER = "Agency-Signature-Kid"
APPLIED_TRAILER = "Agency-Applied-Commit"
RECORD_SHA_TRAILER = "Agency-Record-Sha256"
IDENTITY = git.Actor("Agent Agency", "provenance@agent-agency.invalid")
_IDENTITY_ENV = {
    "GIT_AUTHOR_NAME": IDENTITY.name or "",
    "GIT_AUTHOR_EMAIL": IDENTITY.email or "",
    "GIT_COMMITTER_NAME": IDENTITY.name or "",
    "GIT_COMMITTER_EMAIL": IDENTITY.email or "",
}
_NO_COMMIT = "0" * 40
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ProvenanceRepoError(RuntimeError):
    pass


def record_path(task_id: str) -> str:
    if not _SAFE_NAME.match(task_id):
        raise ProvenanceRepoError(f"task id {task_id!r} cannot name a file")
    return f"tasks/{task_id}.jws"


@dataclass(frozen=True)
class RecordCommit:
    task_id: str
    outcome: str
    kid: str
    record_sha256: str
    token: str
    caws_id: str | None = None
    title: str | None = None
    applied_commit: str | None = None

    def message(self) -> str:
        subject = f"Provenance of task {self.task_id}: {self.outcome}"
        # What the task was, when known; never the last paragraph (that holds the trailers).
        about = f"{self.caws_id}: {self.title or ''}".strip() if self.caws_id else ""
        trailers = [
            f"{TASK_TRAILER}: {self.task_id}",
            f"{VERDICT_TRAILER}: {self.outcome}",
            f"{KID_TRAILER}: {self.kid}",
            f"{RECORD_SHA_TRAILER}: {self.record_sha256}",
        ]
        if self.applied_commit:
            trailers.append(f"{APPLIED_TRAILER}: {self.applied_commit}")
        body = f"{about}\n\n" if about else ""
        return f"{subject}\n\n{body}" + "\n".join(trailers) + "\n"


def trailers(commit: git.Commit) -> dict[str, list[str]]:
    """A commit's trailers, as git parses them (`git interpret-trailers --parse`)."""
    return commit.trailers_dict


class ProvenanceRepo:
    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return (self.path / ".git").is_dir()

    def open(self) -> git.Repo:
        try:
            return git.Repo(self.path)
        except (git.NoSuchPathError, git.InvalidGitRepositoryError) as err:
            raise ProvenanceRepoError(f"{self.path} is not a git repository") from err

    def ensure(self) -> git.Repo:
        if self.exists():
            return self.open()
        self.path.mkdir(parents=True, exist_ok=True)
        return git.Repo.init(self.path, initial_branch="main")

    @contextlib.contextmanager
    def _locked(self, repo: git.Repo) -> Iterator[None]:
        fd = os.open(Path(repo.git_dir) / "agency-provenance.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def commit_record(self, record: RecordCommit, key: PublicKeyInfo) -> str:
        """Write and commit the record (and the signing key's public half); the commit id."""
        repo = self.ensure()
        path = record_path(record.task_id)
        with self._locked(repo):
            root = Path(repo.working_tree_dir or self.path)
            (root / "tasks").mkdir(exist_ok=True)
            (root / "keys").mkdir(exist_ok=True)
            (root / path).write_text(record.token + "\n", encoding="ascii")
            files = [path]
            jwk = root / "keys" / f"{key.kid}.jwk"
            if not jwk.exists():
                jwk.write_text(json.dumps(key.jwk(), indent=2, sort_keys=True) + "\n")
                (root / "keys" / f"{key.kid}.pem").write_text(key.pem())
                files += [f"keys/{key.kid}.jwk", f"keys/{key.kid}.pem"]
            return self._commit(repo, files, record.message())

    def _commit(self, repo: git.Repo, files: list[str], message: str) -> str:
        """Commit `files` on HEAD's branch with git's plumbing. GitPython's own index
        (`repo.index`) reads and rewrites the whole index in Python: 0.3 s a record with
        5,000 tasks in the repository, growing with every task. git's own index code,
        and no work-tree scan (no `git commit`): a few milliseconds at any size."""
        repo.git.add("--", *files)
        tree = repo.git.write_tree()
        parent = repo.git.rev_parse("--verify", "--quiet", "HEAD", with_exceptions=False)
        parents = ["-p", parent] if parent else []
        sha = repo.git.commit_tree(tree, *parents, "-m", message, env=_IDENTITY_ENV)
        # Moves the branch only from the parent read above (the lock makes that certain).
        repo.git.update_ref("-m", "provenance record", "HEAD", sha, parent or _NO_COMMIT)
        return str(sha)

    # ------------------------------------------------------------------ reading
    def blob_at(self, repo: git.Repo, rev: str, path: str) -> str | None:
        try:
            return repo.git.show(f"{rev}:{path}", strip_newline_in_stdout=False)
        except git.GitCommandError:
            return None

    def last_commit_touching(self, repo: git.Repo, path: str) -> str | None:
        try:
            sha = repo.git.log("-1", "--format=%H", "--", path).strip()
        except git.GitCommandError:
            return None
        return sha or None
