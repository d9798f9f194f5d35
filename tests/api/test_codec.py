"""Encrypted payloads end to end: a task runs with the codec on, its raw history holds no
plaintext (read without the codec, by the SDK and by `temporal workflow show`), and the
API's /codec endpoints decode it for the `temporal` CLI; plus the endpoints' rules over
real HTTP (who may call them, CORS for the Temporal UI only, the codec off)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from agency.asgi_thread import serve_app
from agency.db.migrate import upgrade_database
from agency.provenance import history as hist
from agency.provenance.replay import check_determinism
from agency.settings import Settings
from agency.temporal_client import connect
from api.app import create_app
from api.codec_auth import CODEC_COOKIE
from tests.support.harness import TEMPORAL_BIN, harness
from tests.support.keys import bearer, make_key
from workflows.task import TaskWorkflow

UI_ORIGIN = "http://127.0.0.1:18233"


def codec_keys(*kids: str) -> dict[str, SecretStr]:
    return {kid: SecretStr(base64.b64encode(os.urandom(32)).decode()) for kid in kids}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def json_payload(value: object) -> dict[str, object]:
    """A payload as the UI and CLI send it (protobuf JSON, base64 fields)."""
    return {
        "metadata": {"encoding": b64(b"json/plain")},
        "data": b64(json.dumps(value).encode()),
    }


def readable(output: str) -> str:
    """The CLI's JSON output with every payload's data base64-decoded next to it (the CLI
    prints payload data in base64), so that a search finds plaintext wherever it is."""
    found: list[str] = [output]
    stack: list[object] = [json.loads(output)]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("data"), str) and "metadata" in item:
                found.append(base64.b64decode(item["data"]).decode("utf-8", "replace"))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return "\n".join(found)


def show(address: str, workflow_id: str, *codec: str) -> str:
    """`temporal workflow show --output json` of the history, as an operator would run it,
    made readable (payload data decoded from base64)."""
    argv = [str(TEMPORAL_BIN), "workflow", "show", "--workflow-id", workflow_id]
    argv += ["--address", address, "--namespace", "default", "--output", "json", *codec]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, env={"PATH": os.environ["PATH"]}
    )
    assert done.returncode == 0, done.stderr
    return readable(done.stdout)


async def test_an_encrypted_history_reads_only_through_the_codec(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    keys = codec_keys("k-2025")
    address = dev_env.client.service_client.config.target_host
    # The worker, the executor and the API all use the codec, as every process would.
    client = await connect(Settings(temporal_address=address, codec_keys=keys))
    async with harness(client, tmp_path, codec_keys=keys) as h:
        handle = await h.start(
            title=f"Add triple() {marker}",
            agent={
                "argv": [sys.executable, "tools/agent.py", f"{marker}-argv"],
                "timeout_s": 60,
                "env": {"AGENT_SCENARIO": "in_scope"},
            },
        )
        result = await handle.result()
        assert result.phase == "completed", result.error

        # Without the codec: the SDK's raw history and the CLI show no task content.
        raw = await dev_env.client.get_workflow_handle(handle.id).fetch_history()
        assert marker not in raw.to_json()
        assert "binary/encrypted" in raw.to_json() or b64(b"binary/encrypted") in raw.to_json()
        assert marker not in show(address, handle.id)

        # Through the codec: provenance reads the history, the replay runs on it.
        history = await client.get_workflow_handle(handle.id).fetch_history()
        facts = await hist.facts(history, history.events, client.data_converter)
        assert facts.task.spec.title == f"Add triple() {marker}"
        replay = await check_determinism(
            history, [TaskWorkflow], data_converter=client.data_converter
        )
        assert replay.deterministic, replay.divergence
        # A client without the keys cannot read it, and says why.
        with pytest.raises(hist.HistoryError):
            await hist.facts(raw, raw.events, dev_env.client.data_converter)

        operator = await make_key(h.settings.effective_database_url, "ops", "operator")
        with serve_app(create_app(h.settings, workflows=[TaskWorkflow])) as url:
            async with httpx.AsyncClient(base_url=url, headers=bearer(operator)) as http:
                task_id = handle.id.removeprefix("task-")
                provenance = (await http.get(f"/api/v1/tasks/{task_id}/provenance")).json()
                assert provenance["verified"], provenance["checks"]
                replayed = (await http.get(f"/api/v1/tasks/{task_id}/replay")).json()
                assert replayed["deterministic"], replayed
            # The CLI decodes through the API's codec endpoint with an operator key.
            decoded = show(
                address,
                handle.id,
                "--codec-endpoint",
                f"{url}/codec",
                "--codec-auth",
                f"Bearer {operator}",
            )
            assert marker in decoded and f"{marker}-argv" in decoded


@dataclass
class CodecApi:
    url: str
    operator: str
    viewer: str
    admin: str


@pytest.fixture
async def codec_api(
    dev_env: WorkflowEnvironment, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[CodecApi]:
    """The API over real HTTP with a codec key (the test's `codec_keys` param: none = off)."""
    keys = getattr(request, "param", codec_keys("k1"))
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'agency.db'}"
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url,
        temporal_address=dev_env.client.service_client.config.target_host,
        temporal_ui_origin=UI_ORIGIN,
        codec_keys=keys,
    )
    upgrade_database(database_url)
    roles = {role: await make_key(database_url, role, role) for role in ("operator", "viewer")}
    admin = await make_key(database_url, "root", "admin")
    with serve_app(create_app(settings)) as url:
        yield CodecApi(url=url, operator=roles["operator"], viewer=roles["viewer"], admin=admin)


async def test_encode_then_decode_round_trips_for_operators_and_admins(codec_api: CodecApi) -> None:
    body = {"payloads": [json_payload({"secret": "s3cr3t"}), json_payload(2)]}
    async with httpx.AsyncClient(base_url=codec_api.url) as http:
        for key in (codec_api.operator, codec_api.admin):
            encoded = await http.post("/codec/encode", json=body, headers=bearer(key))
            assert encoded.status_code == 200, encoded.text
            sealed = encoded.json()["payloads"]
            assert len(sealed) == 2 and "s3cr3t" not in encoded.text
            assert base64.b64decode(sealed[0]["metadata"]["encoding"]) == b"binary/encrypted"
            assert base64.b64decode(sealed[0]["metadata"]["encryption-key-id"]) == b"k1"
            decoded = await http.post(
                "/codec/decode",
                json={"payloads": sealed},
                headers={**bearer(key), "X-Namespace": "default"},
            )
            assert decoded.status_code == 200 and decoded.json() == body
        # Never encrypted: it comes back as it went.
        untouched = await http.post("/codec/decode", json=body, headers=bearer(codec_api.operator))
        assert untouched.json() == body


async def test_viewers_and_strangers_may_not_use_the_codec(codec_api: CodecApi) -> None:
    body = {"payloads": [json_payload("x")]}
    async with httpx.AsyncClient(base_url=codec_api.url) as http:
        for path in ("/codec/encode", "/codec/decode"):
            viewer = await http.post(path, json=body, headers=bearer(codec_api.viewer))
            assert viewer.status_code == 403
            assert viewer.headers["content-type"] == "application/problem+json"
            assert (await http.post(path, json=body)).status_code == 401
            wrong = await http.post(path, json=body, headers=bearer("aa_000000000000_nope"))
            assert wrong.status_code == 401


async def test_a_payload_under_an_unknown_kid_is_refused_naming_it(codec_api: CodecApi) -> None:
    foreign = {
        "metadata": {
            "encoding": b64(b"binary/encrypted"),
            "encryption-key-id": b64(b"retired-2023"),
        },
        "data": b64(os.urandom(48)),
    }
    async with httpx.AsyncClient(
        base_url=codec_api.url, headers=bearer(codec_api.operator)
    ) as http:
        answer = await http.post("/codec/decode", json={"payloads": [foreign]})
        assert answer.status_code == 400
        assert "retired-2023" in answer.json()["detail"]
        garbage = await http.post("/codec/decode", json={"payloads": [{"data": "%%%"}]})
        assert garbage.status_code == 422


async def test_cors_answers_the_temporal_ui_origin_only(codec_api: CodecApi) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    async with httpx.AsyncClient(base_url=codec_api.url) as http:
        ok = await http.options("/codec/decode", headers={"Origin": UI_ORIGIN, **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == UI_ORIGIN
        assert ok.headers["access-control-allow-credentials"] == "true"
        assert "x-namespace" in ok.headers["access-control-allow-headers"].lower()

        other = await http.options(
            "/codec/decode", headers={"Origin": "http://evil.example", **preflight}
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers

        # The actual request from the UI carries the headers the browser needs, even
        # when refused; the rest of the API has no CORS at all.
        refused = await http.post(
            "/codec/decode", json={"payloads": []}, headers={"Origin": UI_ORIGIN}
        )
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == UI_ORIGIN
        elsewhere = await http.options("/api/v1/tasks", headers={"Origin": UI_ORIGIN, **preflight})
        assert "access-control-allow-origin" not in elsewhere.headers


@pytest.mark.parametrize("codec_api", [{}], indirect=True)
async def test_without_a_key_the_codec_is_off(codec_api: CodecApi) -> None:
    async with httpx.AsyncClient(
        base_url=codec_api.url, headers=bearer(codec_api.operator)
    ) as http:
        for path in ("/codec/encode", "/codec/decode"):
            answer = await http.post(path, json={"payloads": [json_payload(1)]})
            assert answer.status_code == 404
            assert answer.headers["content-type"] == "application/problem+json"
            assert "codec is off" in answer.json()["title"]


async def test_a_browser_logs_in_once_and_the_ui_decodes_with_the_cookie(
    codec_api: CodecApi,
) -> None:
    sealed = {"payloads": [json_payload("hidden")]}
    async with httpx.AsyncClient(base_url=codec_api.url) as browser:
        page = await browser.get("/codec/login")
        assert page.status_code == 200 and 'name="key"' in page.text
        assert page.headers["x-frame-options"] == "DENY"

        refused = await browser.post("/codec/login", data={"key": codec_api.viewer})
        assert refused.status_code == 403 and CODEC_COOKIE not in browser.cookies

        done = await browser.post("/codec/login", data={"key": codec_api.operator})
        assert done.status_code == 200
        cookie = done.headers["set-cookie"].lower()
        assert "path=/codec" in cookie and "httponly" in cookie and "samesite=strict" in cookie

        # What the UI does: a cross-origin POST with credentials, no Authorization.
        encoded = await browser.post("/codec/encode", json=sealed, headers={"Origin": UI_ORIGIN})
        assert encoded.status_code == 200, encoded.text
        assert encoded.headers["access-control-allow-origin"] == UI_ORIGIN
        decoded = await browser.post(
            "/codec/decode", json=encoded.json(), headers={"Origin": UI_ORIGIN}
        )
        assert decoded.json() == sealed

        # The cookie is the codec's only: the API proper does not take it.
        leaked = await browser.get(
            "/api/v1/keys/me", headers={"Cookie": f"{CODEC_COOKIE}={codec_api.operator}"}
        )
        assert leaked.status_code == 401

        await browser.post("/codec/logout")
        assert (await browser.post("/codec/encode", json=sealed)).status_code == 401
