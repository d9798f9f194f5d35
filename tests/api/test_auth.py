"""API keys over real HTTP: roles on every route, tenants, storage, revocation, logs."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from agency.db.keys import ROLE_RANK, ROLES
from tests.api.conftest import ApiUnderTest
from tests.api.test_tasks import finished, wait_task
from tests.support.repos import task_spec

PROBLEM = "application/problem+json"
MISSING_TASK = "00000000-0000-0000-0000-000000000000"
MISSING_KEY = "000000000000"


def concrete(path: str) -> str:
    return path.replace("{task_id}", MISSING_TASK).replace("{key_id}", MISSING_KEY)


def protected_operations(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(method, path, role) of every route that needs a key, from the OpenAPI document."""
    out = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            role = operation.get("x-required-role")
            if role is not None:
                out.append((method.upper(), path, role))
    return out


async def call(http: httpx.AsyncClient, method: str, path: str) -> httpx.Response:
    # Streams get one snapshot; bodies are empty objects (valid or 422: either proves
    # that authorization let the request through).
    params = {"count": "1"} if path.endswith("/stream") else None
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return await http.request(method, concrete(path), params=params, json=body, timeout=20)


async def test_each_role_on_each_route(api: ApiUnderTest) -> None:
    schema = (await api.http.get("/openapi.json")).json()
    operations = protected_operations(schema)
    assert len(operations) >= 15
    clients = {role: api.client(await api.key(f"{role}-1", role)) for role in ROLES}
    anonymous = api.client(None)
    for method, path, needed in operations:
        response = await call(anonymous, method, path)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.headers["www-authenticate"].startswith("Bearer")
        for role, http in clients.items():
            response = await call(http, method, path)
            where = (role, method, path, response.status_code, response.text[:200])
            if ROLE_RANK[role] < ROLE_RANK[needed]:
                assert response.status_code == 403, where
                assert response.json()["type"].endswith("/forbidden"), where
            else:
                assert response.status_code not in (401, 403), where
                assert response.status_code < 500, where
            assert "RateLimit" in response.headers, where


async def test_keys_are_accepted_as_bearer_or_x_api_key_and_nothing_else(
    api: ApiUnderTest,
) -> None:
    key = await api.key("viewer-2", "viewer")
    plain = api.client(None)
    assert (await plain.get("/api/v1/tasks", headers={"X-API-Key": key})).status_code == 200
    assert (await plain.get("/api/v1/keys/me", headers={"X-API-Key": key})).json()["name"] == (
        "viewer-2"
    )
    for headers in (
        {"Authorization": f"Basic {key}"},
        {"Authorization": "Bearer aa_000000000000_" + "A" * 43},
        {"Authorization": f"Bearer {key[:-1]}B" if not key.endswith("B") else f"Bearer {key}A"},
        {"Authorization": "Bearer not-a-key"},
        {"X-API-Key": "x" * 300},
    ):
        response = await plain.get("/api/v1/tasks", headers=headers)
        assert response.status_code == 401, headers
        assert "RateLimit" not in response.headers


async def test_a_tenant_never_sees_another_tenants_task(api: ApiUnderTest) -> None:
    acme = api.client(await api.key("acme-op", "operator", tenant="acme"))
    globex = api.client(await api.key("globex-admin", "admin", tenant="globex"))
    spec = task_spec(api.h.repo, execution_mode="dry_run")
    created = await acme.post("/api/v1/tasks", json=spec)
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    secret_title = created.json()["title"]

    for method, suffix in (
        ("GET", ""),
        ("GET", "/audit"),
        ("GET", "/events"),
        ("POST", "/pause"),
        ("POST", "/cancel"),
        ("POST", "/approve"),
    ):
        response = await globex.request(method, f"/api/v1/tasks/{task_id}{suffix}", json=None)
        assert response.status_code == 404, (method, suffix, response.text)
        assert secret_title not in response.text and "acme" not in response.text
    stream = await globex.get(
        f"/api/v1/tasks/{task_id}/events", headers={"Accept": "text/event-stream"}
    )
    assert stream.status_code == 404
    assert (await globex.get("/api/v1/tasks")).json()["items"] == []
    assert (await globex.get("/api/v1/metrics")).json()["tasks_by_phase"] == {}
    # The default tenant (the fixture's admin) does not see it either.
    assert (await api.http.get(f"/api/v1/tasks/{task_id}")).status_code == 404

    done = await wait_task(acme, task_id, finished)
    assert done["submitted_by"] == "acme-op"
    assert [t["id"] for t in (await acme.get("/api/v1/tasks")).json()["items"]] == [task_id]


async def test_revocation_takes_effect_on_the_next_request(api: ApiUnderTest) -> None:
    created = await api.http.post("/api/v1/keys", json={"name": "temp", "role": "operator"})
    assert created.status_code == 201, created.text
    body = created.json()
    temp = api.client(body["key"])
    assert (await temp.get("/api/v1/tasks")).status_code == 200

    revoked = await api.http.delete(f"/api/v1/keys/{body['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    response = await temp.get("/api/v1/tasks")
    assert response.status_code == 401
    assert response.json()["type"].endswith("/unauthorized")


async def test_the_database_holds_no_raw_key_and_the_logs_show_none(
    api: ApiUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    raw_keys = []
    for role in ROLES:
        response = await api.http.post("/api/v1/keys", json={"name": f"k-{role}", "role": role})
        raw_keys.append(response.json()["key"])
    raw_keys.append(api.admin_key)
    for key in raw_keys:
        http = api.client(key)
        await http.get("/api/v1/tasks")
        await http.post("/api/v1/keys", json={"name": "x", "role": "admin"})
        await http.get("/api/v1/tasks", headers={"Authorization": f"Bearer {key}x"})
    listed = (await api.http.get("/api/v1/keys")).json()["items"]
    assert {item["prefix"] for item in listed} >= {"_".join(k.split("_")[:2]) for k in raw_keys}
    assert all("key" not in item for item in listed)

    # Last-use times are written after the responses: wait until every key used shows one,
    # so the file searched below holds the last writes.
    used = {"_".join(k.split("_")[:2]) for k in raw_keys}
    for _ in range(100):
        items = (await api.http.get("/api/v1/keys")).json()["items"]
        if all(i["last_used_at"] for i in items if i["prefix"] in used):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("last-use times were not written")
    db_file = Path(api.h.settings.effective_database_url.split("///", 1)[1])
    stored = b"".join(
        path.read_bytes()
        for path in (db_file, db_file.with_name(db_file.name + "-wal"))
        if path.exists()
    )
    with sqlite3.connect(db_file) as connection:
        rows = connection.execute("SELECT * FROM api_keys").fetchall()
    assert len(rows) >= len(raw_keys)
    for key in raw_keys:
        secret = key.split("_", 2)[2]
        assert secret.encode() not in stored
        assert all(secret not in str(value) for row in rows for value in row)
        assert secret not in caplog.text
    # The stored hashes are SHA-256 digests, not keys.
    assert all(re.fullmatch(r"[0-9a-f]{64}", row[2]) for row in rows)
