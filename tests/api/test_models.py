"""/api/v1/models over real HTTP: listing, hot swap, roles, unknown and missing models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agency.inference import Engine
from agency.settings import Settings
from tests.support.chat_api import ApiProcess, api_settings, new_key, running_api
from tests.support.inference import engine

__all__ = ["engine"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return api_settings(tmp_path / "data")


@pytest.fixture
def api(settings: Settings, engine: Engine) -> Iterator[ApiProcess]:
    with running_api(settings) as process:
        yield process


async def test_the_list_names_each_model_with_its_state(
    api: ApiProcess, settings: Settings
) -> None:
    viewer = await new_key(settings, "viewer")
    async with httpx.AsyncClient(base_url=api.url, headers=viewer) as http:
        listing = (await http.get("/api/v1/models")).json()
    models = {m["name"]: m for m in listing["models"]}
    assert listing["default"] == "smollm2-135m"
    assert listing["current"] == "smollm2-135m"  # loaded by the session's engine fixture
    current = models["smollm2-135m"]
    assert current["available"] and current["loaded"] and current["current"]
    assert current["memory_bytes"] > 100 * 2**20 and current["load_s"] > 0
    assert models["smollm2-135m-q4"]["available"] and not models["smollm2-135m-q4"]["loaded"]
    assert listing["blas"]


async def test_an_admin_swaps_the_model_and_others_may_not(
    api: ApiProcess, settings: Settings
) -> None:
    admin = await new_key(settings, "admin")
    operator = await new_key(settings, "operator")
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
        refused = await http.post(
            "/api/v1/models/swap", json={"name": "smollm2-135m-q4"}, headers=operator
        )
        assert refused.status_code == 403
        unknown = await http.post("/api/v1/models/swap", json={"name": "gpt-9"}, headers=admin)
        assert unknown.status_code == 404 and "smollm2-135m" in unknown.json()["detail"]
        try:
            swapped = await http.post(
                "/api/v1/models/swap", json={"name": "smollm2-135m-q4"}, headers=admin
            )
            assert swapped.status_code == 200, swapped.text
            report = swapped.json()
            assert report["previous"] == "smollm2-135m"
            assert report["current"] == "smollm2-135m-q4"
            assert report["load_s"] > 0 and report["memory_bytes"] > 0
            listing = (await http.get("/api/v1/models", headers=admin)).json()
            assert listing["current"] == "smollm2-135m-q4"
        finally:
            back = await http.post(
                "/api/v1/models/swap", json={"name": "smollm2-135m"}, headers=admin
            )
            assert back.status_code == 200, back.text


async def test_a_missing_model_is_named_with_where_it_should_be(tmp_path: Path) -> None:
    ghost = tmp_path / "ghost.gguf"
    settings = api_settings(tmp_path / "data").model_copy(update={"models": {"ghost": ghost}})
    admin = await new_key(settings, "admin")
    with running_api(settings) as api:
        async with httpx.AsyncClient(base_url=api.url, headers=admin) as http:
            answer = await http.post("/api/v1/models/ghost/load")
            listing = (await http.get("/api/v1/models")).json()
    assert answer.status_code == 409
    assert str(ghost) in answer.json()["detail"] and "not installed" in answer.json()["detail"]
    [entry] = [m for m in listing["models"] if m["name"] == "ghost"]
    assert not entry["available"] and str(ghost) in entry["problem"]
