from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from agency.cli.client import (
    ApiClient,
    cli_actor,
    path_segment,
    problem_error,
    resolve_api_key,
)
from agency.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, CliError
from agency.settings import Settings


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def response(status: int, body: object | None = None, text: str | None = None) -> httpx.Response:
    request = httpx.Request("POST", "http://127.0.0.1:8080/api/v1/tasks")
    if body is not None:
        return httpx.Response(
            status,
            json=body,
            headers={"content-type": "application/problem+json"},
            request=request,
        )
    return httpx.Response(status, text=text or "", request=request)


def test_validation_problem_lists_every_error_with_its_path() -> None:
    error = problem_error(
        response(
            422,
            {
                "type": "about:blank",
                "title": "Invalid task spec",
                "status": 422,
                "detail": "2 problems",
                "errors": [
                    {"path": "scope.in", "message": "Field required"},
                    {"path": "risk_tier", "message": "must be 1, 2 or 3"},
                ],
            },
        )
    )
    assert error.exit_code == EXIT_BAD_INPUT
    assert "Invalid task spec" in error.message and "422" in error.message
    assert [(p.path, p.message) for p in error.problems] == [
        ("scope.in", "Field required"),
        ("risk_tier", "must be 1, 2 or 3"),
    ]


def test_conflict_carries_the_reason() -> None:
    error = problem_error(
        response(409, {"title": "Conflict", "status": 409, "detail": "cannot resume: not paused"})
    )
    assert error.exit_code == EXIT_BAD_INPUT
    assert "cannot resume: not paused" in error.message


def test_fastapi_default_validation_shape_is_understood() -> None:
    body = {"detail": [{"loc": ["body", "verdict"], "msg": "Input should be 'approve'"}]}
    error = problem_error(response(422, body))
    assert [(p.path, p.message) for p in error.problems] == [
        ("body.verdict", "Input should be 'approve'")
    ]


def test_server_errors_and_non_json_bodies_exit_1() -> None:
    error = problem_error(response(502, text="<html>bad gateway</html>"))
    assert error.exit_code == EXIT_FAILURE
    assert "502" in error.message and "bad gateway" in error.message


def test_unreachable_api_suggests_agency_up() -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    with ApiClient(url) as client, pytest.raises(CliError) as caught:
        client.get_task("abc")
    assert caught.value.exit_code == EXIT_FAILURE
    assert url in caught.value.message
    assert caught.value.hint is not None and "agency up" in caught.value.hint


def test_api_key_from_env_wins_over_admin_key_file(tmp_path: Path) -> None:
    (tmp_path / "admin.key").write_text("file-key\n", encoding="utf-8")
    assert resolve_api_key(Settings(data_dir=tmp_path)) == "file-key"
    assert resolve_api_key(Settings(data_dir=tmp_path, api_key="env-key")) == "env-key"
    assert resolve_api_key(Settings(data_dir=tmp_path / "none")) is None


def test_headers_name_the_actor_and_carry_the_key() -> None:
    client = ApiClient("http://127.0.0.1:9", api_key="k-123")
    headers = client._http.headers
    assert headers["X-Agency-Actor"] == cli_actor()
    assert cli_actor().startswith("cli:")
    assert headers["Authorization"] == "Bearer k-123"
    assert "Authorization" not in ApiClient("http://127.0.0.1:9")._http.headers


def test_task_ids_stay_one_path_segment() -> None:
    assert path_segment("../../health") == "..%2F..%2Fhealth"
    assert path_segment("..") == "%2E%2E"
    assert path_segment("3f2a-11") == "3f2a-11"
