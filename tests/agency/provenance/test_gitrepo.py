from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import git
import pytest

from agency.provenance.file_keystore import FileKeystore
from agency.provenance.gitrepo import (
    IDENTITY,
    ProvenanceRepo,
    ProvenanceRepoError,
    RecordCommit,
    record_path,
    trailers,
)
from agency.provenance.keystore import PublicKeyInfo


@pytest.fixture
def key(tmp_path: Path) -> PublicKeyInfo:
    store = FileKeystore(tmp_path / "keys")
    info = store.public_key(store.ensure_signing_key())
    assert info is not None
    return info


def commit(task_id: str, key: PublicKeyInfo, applied: str | None = None) -> RecordCommit:
    return RecordCommit(
        task_id=task_id,
        outcome="completed",
        kid=key.kid,
        record_sha256="ab" * 32,
        token=f"header.payload-{task_id}.signature",
        caws_id="FEAT-1",
        title="Add: a thing",
        applied_commit=applied,
    )


def test_a_record_is_one_commit_with_its_trailers(tmp_path: Path, key: PublicKeyInfo) -> None:
    repo = ProvenanceRepo(tmp_path / "prov")
    sha = repo.commit_record(commit("t-1", key, applied="c0ffee" * 6 + "abcd"), key)

    g = git.Repo(tmp_path / "prov")
    head = g.head.commit
    assert head.hexsha == sha and g.active_branch.name == "main"
    assert (head.author.email, head.committer.email) == (IDENTITY.email, IDENTITY.email)
    assert not g.is_dirty(untracked_files=True)
    assert trailers(head) == {
        "Agency-Task": ["t-1"],
        "Agency-Verdict": ["completed"],
        "Agency-Signature-Kid": [key.kid],
        "Agency-Record-Sha256": ["ab" * 32],
        "Agency-Applied-Commit": ["c0ffee" * 6 + "abcd"],
    }
    assert (tmp_path / "prov" / "tasks" / "t-1.jws").read_text() == "header.payload-t-1.signature\n"
    assert json.loads((tmp_path / "prov" / "keys" / f"{key.kid}.jwk").read_text())["kid"] == key.kid
    # `git log --grep` finds a task's record from its id, as the README says.
    found = g.git.log("--format=%H", "--grep", "Agency-Task: t-1")
    assert found == sha


def test_the_key_files_are_committed_once(tmp_path: Path, key: PublicKeyInfo) -> None:
    repo = ProvenanceRepo(tmp_path / "prov")
    repo.commit_record(commit("t-1", key), key)
    second = repo.commit_record(commit("t-2", key), key)
    g = git.Repo(tmp_path / "prov")
    files = g.git.show("--name-only", "--format=", second).split()
    assert files == ["tasks/t-2.jws"]
    # Each record's commit has the one before as its parent: the branch is a chain.
    assert len(list(g.iter_commits())) == 2 and g.head.commit.parents[0].parents == ()


def test_concurrent_records_are_all_committed(tmp_path: Path, key: PublicKeyInfo) -> None:
    repo = ProvenanceRepo(tmp_path / "prov")
    repo.ensure()
    ids = [f"t-{n}" for n in range(6)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        shas = list(pool.map(lambda t: repo.commit_record(commit(t, key), key), ids))
    assert len(set(shas)) == len(ids)
    g = git.Repo(tmp_path / "prov")
    assert sorted(g.git.ls_files("tasks").split()) == sorted(f"tasks/{t}.jws" for t in ids)
    assert not g.is_dirty(untracked_files=True)


def test_task_ids_that_could_escape_the_directory_are_refused() -> None:
    for bad in ("../x", ".hidden", "a/b", ""):
        with pytest.raises(ProvenanceRepoError):
            record_path(bad)
