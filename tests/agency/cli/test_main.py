"""The CLI's own argument and input handling, through typer's CliRunner."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agency.cli.main import app


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def offline_env(tmp_path: Path) -> dict[str, str]:
    # An API URL where nothing listens, and a data dir without an admin key.
    return {
        "AGENCY_API_URL": f"http://127.0.0.1:{unused_port()}",
        "AGENCY_DATA_DIR": str(tmp_path / "data"),
        "AGENCY_API_KEY": "",
    }


def test_bad_yaml_exits_2_with_the_parser_message(
    runner: CliRunner, tmp_path: Path, offline_env: dict[str, str]
) -> None:
    spec = tmp_path / "task.yaml"
    spec.write_text("id: FEAT-1\nscope: {in: [src/\n", encoding="utf-8")
    result = runner.invoke(app, ["submit", str(spec)], env=offline_env)
    assert result.exit_code == 2
    assert "not valid YAML" in result.stderr
    assert "Traceback" not in result.output


def test_spec_that_is_not_a_mapping_exits_2(
    runner: CliRunner, tmp_path: Path, offline_env: dict[str, str]
) -> None:
    spec = tmp_path / "task.yaml"
    spec.write_text("- one\n- two\n", encoding="utf-8")
    result = runner.invoke(app, ["submit", str(spec)], env=offline_env)
    assert result.exit_code == 2
    assert "must be a mapping" in result.stderr


def test_missing_spec_file_exits_2(
    runner: CliRunner, tmp_path: Path, offline_env: dict[str, str]
) -> None:
    result = runner.invoke(app, ["submit", str(tmp_path / "absent.yaml")], env=offline_env)
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_unknown_mode_option_is_refused_by_the_parser(
    runner: CliRunner, tmp_path: Path, offline_env: dict[str, str]
) -> None:
    spec = tmp_path / "task.yaml"
    spec.write_text("id: FEAT-1\n", encoding="utf-8")
    result = runner.invoke(app, ["submit", str(spec), "--mode", "yolo"], env=offline_env)
    assert result.exit_code == 2


def test_unreachable_api_exits_1_and_suggests_agency_up(
    runner: CliRunner, tmp_path: Path, offline_env: dict[str, str]
) -> None:
    spec = tmp_path / "task.yaml"
    spec.write_text("id: FEAT-1\nrepo: .\n", encoding="utf-8")
    for args in (["submit", str(spec)], ["show", "abc"], ["list"], ["approve", "abc"]):
        result = runner.invoke(app, args, env=offline_env)
        assert result.exit_code == 1, args
        assert "not reachable" in result.stderr
        assert offline_env["AGENCY_API_URL"] in result.stderr
        assert "agency up" in result.stderr
        assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["list", "--mode", "sideways"],
        ["list", "--phase", "dancing"],
        ["params", "abc"],
        ["params", "abc", "--risk-tier", "4"],
        ["override", "abc", "--verdict", "maybe", "--reason", "x"],
        ["override", "abc", "--verdict", "approve", "--reason", "  "],
        ["override", "abc", "--verdict", "approve"],
        ["guide", "abc", "  "],
    ],
)
def test_bad_arguments_exit_2_before_any_request(
    runner: CliRunner, offline_env: dict[str, str], args: list[str]
) -> None:
    # The API is unreachable: exit code 2 (not 1) proves the CLI refused on its own.
    result = runner.invoke(app, args, env=offline_env)
    assert result.exit_code == 2, result.output


def test_help_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    commands = ["submit", "list", "show", "watch", "audit", "pause", "resume", "cancel"]
    commands += ["approve", "reject", "override", "guide", "params", "up", "demo", "db"]
    for command in commands:
        assert command in result.stdout
