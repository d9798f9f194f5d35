"""`agency models` and `agency chat` against a real API (HTTP and WebSocket) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agency.cli.main import app
from agency.inference import Engine
from agency.settings import Settings
from tests.support.chat_api import ApiProcess, api_settings, new_key, running_api
from tests.support.inference import QUESTION, engine

__all__ = ["engine"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return api_settings(tmp_path / "data").model_copy(update={"inference_max_tokens": 12})


@pytest.fixture
def api(settings: Settings, engine: Engine) -> Iterator[ApiProcess]:
    with running_api(settings) as process:
        yield process


async def cli_env(api: ApiProcess, settings: Settings, role: str) -> dict[str, str]:
    key = (await new_key(settings, role))["Authorization"].removeprefix("Bearer ")  # type: ignore[arg-type]
    return {
        "AGENCY_API_URL": api.url,
        "AGENCY_API_KEY": key,
        "AGENCY_DATA_DIR": str(settings.data_dir),
    }


async def test_models_list_shows_the_current_model_with_memory_and_load_time(
    api: ApiProcess, settings: Settings
) -> None:
    env = await cli_env(api, settings, "viewer")
    result = CliRunner().invoke(app, ["models", "list"], env=env)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if "smollm2-135m " in x)
    assert "current (default)" in line and "MiB" in line and " s " in line
    refused = CliRunner().invoke(app, ["models", "swap", "smollm2-135m-q4"], env=env)
    assert refused.exit_code == 2 and "admin" in refused.output
    unknown = CliRunner().invoke(
        app, ["models", "load", "gpt-9"], env=await cli_env(api, settings, "admin")
    )
    assert unknown.exit_code == 2 and "unknown model 'gpt-9'" in unknown.output


async def test_chat_asks_and_prints_the_streamed_answer(
    api: ApiProcess, settings: Settings
) -> None:
    env = await cli_env(api, settings, "operator")
    first = CliRunner().invoke(app, ["chat", QUESTION], env=env)
    assert first.exit_code == 0, first.output
    assert "Paris" in first.stdout
    session = next(x for x in first.stderr.splitlines() if x.startswith("session ")).split()[1]
    # The same session again: its history is shown first, then the new answer.
    again = CliRunner().invoke(app, ["chat", "--session", session, "Say hi."], env=env)
    assert again.exit_code == 0, again.output
    assert f"> {QUESTION}" in again.stdout and "> Say hi." not in again.stdout
    quiet = CliRunner().invoke(
        app, ["chat", "--session", session, "--no-history", "Say bye."], env=env
    )
    assert quiet.exit_code == 0 and QUESTION not in quiet.stdout


def test_chat_without_an_api_says_how_to_start_one(tmp_path: Path) -> None:
    env = {"AGENCY_API_URL": "http://127.0.0.1:9", "AGENCY_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["chat", "hi"], env=env)
    assert result.exit_code == 1 and "agency up" in result.output
