"""Scope entries and forbidden-path patterns against changed paths."""

from __future__ import annotations

import pytest

from council.paths import (
    entry_targets_forbidden,
    is_test_file,
    matches_forbidden,
    matches_scope,
    normalize,
    top_level,
)


def test_normalize() -> None:
    assert normalize("./src//a/") == "src/a"
    assert normalize("src\\win\\a.py") == "src/win/a.py"


@pytest.mark.parametrize(
    ("path", "entry"),
    [
        ("src/http/client.py", "src/http/"),
        ("src/http/client.py", "src/http"),
        ("src/http/client.py", "src/http/client.py"),
        ("src/http/client.py", "./src/http/"),
        ("src/http/deep/x.py", "src/**/*.py"),
        ("src/x.py", "src/**/*.py"),
        ("a/b/test_x.py", "**/test_*.py"),
        ("test_x.py", "**/test_*.py"),
        ("docs/a.md", "docs/*.md"),
        ("anything/at/all", "."),
        ("anything", "**"),
        ("src/a1.py", "src/a[0-9].py"),
        ("src/x/y", "src/*/"),
    ],
)
def test_in_scope(path: str, entry: str) -> None:
    assert matches_scope(path, entry)


@pytest.mark.parametrize(
    ("path", "entry"),
    [
        ("src/httpx/client.py", "src/http"),
        ("src/http.py", "src/http/"),
        ("docs/sub/a.md", "docs/*.md"),
        ("src/x.ts", "src/**/*.py"),
        ("src/ab.py", "src/a[0-9].py"),
        ("other/src/http/x.py", "src/http/"),
    ],
)
def test_not_in_scope(path: str, entry: str) -> None:
    assert not matches_scope(path, entry)


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        (".git/config", ".git/"),
        ("vendor/lib/.git/HEAD", ".git/"),
        (".github/workflows/ci.yml", ".github/workflows/"),
        (".gitlab-ci.yml", ".gitlab-ci.yml"),
        ("config/.env", ".env"),
        ("certs/server.pem", "*.pem"),
        ("home/.ssh/id_rsa.pub", "id_rsa*"),
        ("deploy/main.tf", "deploy/*.tf"),
    ],
)
def test_forbidden(path: str, pattern: str) -> None:
    assert matches_forbidden(path, pattern)


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        (".gitignore", ".git/"),
        ("src/git/x.py", ".git/"),
        (".github/CODEOWNERS", ".github/workflows/"),
        ("src/env.py", ".env"),
        ("src/key.py", "*.key"),
        ("deploy/sub/main.tf", "deploy/*.tf"),
    ],
)
def test_not_forbidden(path: str, pattern: str) -> None:
    assert not matches_forbidden(path, pattern)


@pytest.mark.parametrize(
    ("entry", "pattern"),
    [
        (".github/", ".github/workflows/"),
        (".github", ".github/workflows/"),
        (".github/workflows/ci.yml", ".github/workflows/"),
        (".git", ".git/"),
        ("config/.env", ".env"),
        ("keys/*.pem", "*.pem"),
    ],
)
def test_entry_targets_forbidden(entry: str, pattern: str) -> None:
    assert entry_targets_forbidden(entry, pattern)


@pytest.mark.parametrize(
    ("entry", "pattern"),
    [(".", ".git/"), ("**", ".env"), ("src/", ".git/"), ("src/", "*.pem"), ("docs/*.md", "*.key")],
)
def test_entry_does_not_target_forbidden(entry: str, pattern: str) -> None:
    assert not entry_targets_forbidden(entry, pattern)


@pytest.mark.parametrize(
    "path",
    [
        "tests/test_a.py",
        "pkg/test/A.java",
        "test_a.py",
        "a_test.go",
        "x.test.js",
        "x.spec.ts",
        "spec/models/user_spec.rb",
        "src/__tests__/x.js",
    ],
)
def test_test_files(path: str) -> None:
    assert is_test_file(path)


@pytest.mark.parametrize("path", ["src/testing.py", "src/contest.py", "tests.md", "latest/a.py"])
def test_not_test_files(path: str) -> None:
    assert not is_test_file(path)


def test_top_level() -> None:
    assert top_level("src/a/b.py") == "src"
    assert top_level("README.md") == "."
