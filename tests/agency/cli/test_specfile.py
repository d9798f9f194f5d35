from __future__ import annotations

import json
from pathlib import Path

import pytest

from agency.cli.errors import EXIT_BAD_INPUT, CliError
from agency.cli.specfile import load_spec_file, resolve_repo


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_repo_is_resolved_against_the_spec_directory(tmp_path: Path) -> None:
    spec = write(tmp_path / "specs" / "task.yaml", "id: FEAT-1\nrepo: ../project\n")
    loaded = load_spec_file(spec)
    assert loaded["repo"] == str((tmp_path / "project").resolve())


def test_remote_and_absolute_repos_are_left_alone(tmp_path: Path) -> None:
    for repo in ("https://example.invalid/x.git", "git@host.invalid:org/x.git", "/srv/x"):
        assert resolve_repo(repo, tmp_path) == repo


def test_mode_overrides_execution_mode(tmp_path: Path) -> None:
    spec = write(tmp_path / "t.yaml", "id: FEAT-1\nexecution_mode: auto\n")
    assert load_spec_file(spec, "dry_run")["execution_mode"] == "dry_run"
    assert load_spec_file(spec)["execution_mode"] == "auto"


def test_json_file_is_read_as_json(tmp_path: Path) -> None:
    spec = write(tmp_path / "t.json", json.dumps({"id": "FEAT-1", "scope": {"in": ["src/"]}}))
    assert load_spec_file(spec)["scope"] == {"in": ["src/"]}


def test_yaml_dates_and_keys_become_json_values(tmp_path: Path) -> None:
    # CAWS specs carry unquoted dates; the API body must still be plain JSON.
    spec = write(tmp_path / "t.yaml", "id: FEAT-1\ncreated: 2025-01-31\n7: seven\n")
    loaded = load_spec_file(spec)
    assert loaded["created"] == "2025-01-31"
    assert loaded["7"] == "seven"
    json.dumps(loaded)


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("bad.yaml", "id: [unclosed\n", "not valid YAML"),
        ("bad.json", '{"id": ', "not valid JSON"),
        ("list.yaml", "- a\n- b\n", "must be a mapping"),
        ("empty.yaml", "", "empty file"),
        ("scalar.yaml", "just text\n", "must be a mapping"),
    ],
)
def test_unusable_files_are_bad_input(tmp_path: Path, name: str, text: str, needle: str) -> None:
    spec = write(tmp_path / name, text)
    with pytest.raises(CliError) as caught:
        load_spec_file(spec)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert needle in caught.value.message
    assert str(spec) in caught.value.message


def test_yaml_error_names_the_line(tmp_path: Path) -> None:
    spec = write(tmp_path / "t.yaml", "id: FEAT-1\ntitle: ok\nscope: {in: [src/\n")
    with pytest.raises(CliError) as caught:
        load_spec_file(spec)
    assert "line" in caught.value.message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="no such file") as missing:
        load_spec_file(tmp_path / "nope.yaml")
    assert missing.value.exit_code == EXIT_BAD_INPUT
    with pytest.raises(CliError, match="directory"):
        load_spec_file(tmp_path)
