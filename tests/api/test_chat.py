"""Chat sessions over the WebSocket with the real default model: streaming, sequence
numbers, resuming after a reconnect, bad frames, auth, and persistence across restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from agency.inference import Engine
from agency.settings import Settings
from tests.support.chat_api import ApiProcess, api_settings, new_key, running_api
from tests.support.inference import QUESTION, engine

__all__ = ["engine"]

MAX_TOKENS = 16
RECV_TIMEOUT_S = 120


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = api_settings(tmp_path / "data")
    return base.model_copy(update={"inference_max_tokens": MAX_TOKENS})


@pytest.fixture
def api(settings: Settings, engine: Engine) -> Iterator[ApiProcess]:
    with running_api(settings) as process:
        yield process


@pytest.fixture
async def operator(settings: Settings) -> dict[str, str]:
    return await new_key(settings, "operator")


async def new_session(api: ApiProcess, headers: dict[str, str], **body: Any) -> str:
    async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=30) as http:
        response = await http.post("/api/v1/chat/session", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def socket(api: ApiProcess, session: str, headers: dict[str, str], after: int = 0) -> Any:
    url = f"{api.ws_url}/api/v1/chat/ws/{session}?after={after}"
    return connect(url, additional_headers=headers, open_timeout=30)


async def frames_until(ws: ClientConnection, kind: str, limit: int = 500) -> list[dict[str, Any]]:
    frames = []
    for _ in range(limit):
        frame = json.loads(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))
        frames.append(frame)
        if frame["type"] == kind:
            return frames
    raise AssertionError(f"no {kind} frame in {limit}")


async def ask(ws: ClientConnection, content: str) -> list[dict[str, Any]]:
    await ws.send(json.dumps({"role": "user", "content": content}))
    return await frames_until(ws, "final")


async def test_the_model_answers_over_the_websocket_token_by_token(
    api: ApiProcess, operator: dict[str, str]
) -> None:
    session = await new_session(api, operator, title="geography")
    async with socket(api, session, operator) as ws:
        assert (await frames_until(ws, "ready"))[-1]["last_seq"] == 0
        frames = await ask(ws, QUESTION)
    message, *tokens, final = frames
    assert message == {"type": "message", "seq": 1, "role": "user", "content": QUESTION}
    assert len(tokens) >= 3 and all(t["type"] == "token" for t in tokens)
    assert final["type"] == "final" and "Paris" in final["content"]
    assert final["content"] == "".join(t["text"] for t in tokens)
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    assert final["finish_reason"] in ("stop", "length") and final["model"] == "smollm2-135m"


async def test_a_reconnect_gets_only_what_it_missed(
    api: ApiProcess, operator: dict[str, str]
) -> None:
    session = await new_session(api, operator)
    async with socket(api, session, operator) as ws:
        await frames_until(ws, "ready")
        await ws.send(json.dumps({"role": "user", "content": QUESTION}))
        # Leave mid-reply: after the user's frame and the first token.
        seen = [json.loads(await ws.recv()) for _ in range(2)]
    assert [f["type"] for f in seen] == ["message", "token"]
    last = seen[-1]["seq"]
    async with socket(api, session, operator, after=last) as ws:
        frames = await frames_until(ws, "final")
    # "ready" ends the catch-up; the rest of the reply follows live if it was still running.
    [ready] = [f for f in frames if f["type"] == "ready"]
    rest = [f for f in frames if f["type"] != "ready"]
    # The reply went on without us; we get exactly the frames after `last`, once each.
    assert [f["seq"] for f in rest] == list(range(last + 1, last + 1 + len(rest)))
    assert ready["session"] == session and ready["last_seq"] <= rest[-1]["seq"]
    assert "Paris" in rest[-1]["content"]
    assert rest[-1]["content"] == seen[-1]["text"] + "".join(f["text"] for f in rest[:-1])
    # Up to date: nothing is replayed.
    async with socket(api, session, operator, after=rest[-1]["seq"]) as ws:
        assert (await frames_until(ws, "ready", limit=1))[0]["last_seq"] == rest[-1]["seq"]


async def test_bad_frames_get_an_error_and_the_connection_stays_usable(
    api: ApiProcess, operator: dict[str, str]
) -> None:
    session = await new_session(api, operator)
    async with socket(api, session, operator) as ws:
        await frames_until(ws, "ready")
        for bad in [
            "not json",
            json.dumps({"role": "assistant", "content": "hi"}),
            json.dumps({"role": "user"}),
            json.dumps({"role": "user", "content": ""}),
            json.dumps(["user", "hi"]),
            b"\x00\x01",
        ]:
            await ws.send(bad)
            [error] = await frames_until(ws, "error", limit=1)
            assert "seq" not in error, (bad, error)
        frames = await ask(ws, "Say hi.")
        assert frames[0]["seq"] == 1 and frames[-1]["type"] == "final"
        # One reply at a time: a message during a reply is refused, not queued or lost.
        await ws.send(json.dumps({"role": "user", "content": "Say one."}))
        await ws.send(json.dumps({"role": "user", "content": "Say two."}))
        frames = await frames_until(ws, "final")
        errors = [f for f in frames if f["type"] == "error"]
        assert len(errors) == 1 and "still being generated" in errors[0]["detail"]
        assert [f["content"] for f in frames if f["type"] == "message"] == ["Say one."]


async def test_sessions_and_messages_survive_a_restart(
    settings: Settings, engine: Engine, operator: dict[str, str]
) -> None:
    with running_api(settings) as first:
        session = await new_session(first, operator)
        async with socket(first, session, operator) as ws:
            await frames_until(ws, "ready")
            before = await ask(ws, "Say hi.")
    with running_api(settings) as second:
        async with socket(second, session, operator) as ws:
            replayed = await frames_until(ws, "ready")
        async with httpx.AsyncClient(base_url=second.url, headers=operator) as http:
            stored = (await http.get(f"/api/v1/chat/session/{session}")).json()
    assert replayed[:-1] == before
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]
    assert stored["last_seq"] == before[-1]["seq"]


async def test_the_websocket_needs_an_operator_key_of_the_sessions_tenant(
    api: ApiProcess, settings: Settings, operator: dict[str, str]
) -> None:
    session = await new_session(api, operator)
    viewer = await new_key(settings, "viewer")
    stranger = await new_key(settings, "operator", tenant="other")
    for headers, code in [({}, 4401), (viewer, 4403), (stranger, 4404)]:
        async with socket(api, session, headers) as ws:
            await frames_until(ws, "error", limit=1)
            await asyncio.wait_for(ws.wait_closed(), RECV_TIMEOUT_S)
            assert ws.close_code == code, (headers, ws.close_code)


async def test_creating_a_session_checks_the_model_name(
    api: ApiProcess, operator: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers=operator) as http:
        refused = await http.post("/api/v1/chat/session", json={"model": "no-such-model"})
        listed = await http.get("/api/v1/chat/sessions")
    assert refused.status_code == 422
    assert "smollm2-135m" in refused.text
    assert listed.status_code == 200 and listed.json()["sessions"] == []
