"""Request bounds: oversized bodies (413), page sizes, unstorable characters, bad JSON:
always a problem document, never a server error or a stack trace."""

from __future__ import annotations

from collections.abc import AsyncIterator

from tests.api.conftest import ApiUnderTest
from tests.support.repos import task_spec

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["type"].startswith("https://")
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


async def test_an_oversized_body_is_413_announced_or_chunked(api: ApiUnderTest) -> None:
    limit = api.h.settings.max_body_bytes
    spec = task_spec(api.h.repo)
    big = {**spec, "notes": "x" * (limit + 10)}
    body = assert_problem(await api.http.post("/api/v1/tasks", json=big), 413)
    assert body["type"].endswith("/payload-too-large")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    chunked = await api.http.post(
        "/api/v1/tasks", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(chunked, 413)
    assert (await api.http.get("/api/v1/tasks")).json()["items"] == []


async def test_page_size_and_parameters_are_bounded(api: ApiUnderTest) -> None:
    assert_problem(await api.http.get("/api/v1/tasks?limit=201"), 422)
    assert_problem(await api.http.get("/api/v1/tasks?limit=0"), 422)
    assert_problem(await api.http.get("/api/v1/tasks?phase=dancing"), 422)
    assert_problem(await api.http.get("/api/v1/tasks?cursor=not-a-cursor"), 422)
    assert_problem(await api.http.get("/api/v1/tasks?q=" + "a" * 201), 422)
    assert_problem(await api.http.get(f"/api/v1/tasks/{'a' * 65}"), 422)
    events = "/api/v1/tasks/x/events?after=99999999999"
    assert_problem(await api.http.get(events), 422)
    ok = await api.http.get("/api/v1/tasks?limit=200&phase=completed&mode=fix&risk_tier=2")
    assert ok.status_code == 200
    # Every bad parameter of the list is named, each with its path.
    body = assert_problem(
        await api.http.get("/api/v1/tasks?limit=0&phase=dancing&risk_tier=9&created_after=x"),
        422,
    )
    assert {e["path"] for e in body["errors"]} == {"limit", "phase", "risk_tier", "created_after"}


async def test_validation_lists_every_problem_with_its_path(api: ApiUnderTest) -> None:
    body = assert_problem(
        await api.http.post(
            "/api/v1/tasks/x/override", json={"verdict": "maybe", "reason": "", "extra": 1}
        ),
        422,
    )
    assert {"verdict", "reason"} <= {e["path"] for e in body["errors"]}


async def test_nul_characters_are_refused_not_stored(api: ApiUnderTest) -> None:
    spec = task_spec(api.h.repo, title="evil\u0000title")
    assert_problem(await api.http.post("/api/v1/tasks", json=spec), 422)
    assert_problem(await api.http.get("/api/v1/tasks?q=a%00b"), 422)
    lone = '{"name": "\\ud800", "role": "viewer"}'
    response = await api.http.post(
        "/api/v1/keys", content=lone, headers={"content-type": "application/json"}
    )
    assert_problem(response, 422)
    assert_problem(
        await api.http.post(
            "/api/v1/tasks", content=b"\xff\xfe{", headers={"content-type": "application/json"}
        ),
        422,
    )


async def test_absurdly_nested_json_is_a_problem(api: ApiUnderTest) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    for path in ("/api/v1/tasks", "/api/v1/keys", "/api/v1/tasks/x/pause"):
        response = await api.http.post(
            path, content=deep, headers={"content-type": "application/json"}
        )
        assert_problem(response, 422)


async def test_a_forged_cursor_with_nul_is_refused(api: ApiUnderTest) -> None:
    import base64
    import json

    forged = json.dumps(["2025-01-01T00:00:00+00:00", "a\u0000b"]).encode()
    cursor = base64.urlsafe_b64encode(forged).decode().rstrip("=")
    assert_problem(await api.http.get(f"/api/v1/tasks?cursor={cursor}"), 422)
