"""Idempotency-Key on POST /api/v1/tasks, over real HTTP with Temporal deciding."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from agency.db import records
from agency.db.engine import make_engine, session_maker
from agency.db.types import utcnow
from api.idempotency import MEMO_DIGEST, STALE_AFTER_S, task_id_for
from tests.api.conftest import ApiUnderTest
from tests.support.repos import task_spec

PROBLEM = "application/problem+json"


def spec(api: ApiUnderTest, **overrides: object) -> dict[str, object]:
    return task_spec(api.h.repo, execution_mode="strict", **overrides)


async def task_count(api: ApiUnderTest) -> int:
    return len((await api.http.get("/api/v1/tasks")).json()["items"])


async def test_same_key_and_body_answer_the_same_task(api: ApiUnderTest) -> None:
    body = spec(api)
    headers = {"Idempotency-Key": "order-1"}
    first = await api.http.post("/api/v1/tasks", json=body, headers=headers)
    # The same body with its keys in another order is the same request.
    reordered = dict(reversed(list(body.items())))
    second = await api.http.post("/api/v1/tasks", json=reordered, headers=headers)

    assert first.status_code == second.status_code == 201, second.text
    a, b = first.json(), second.json()
    assert a["id"] == b["id"] == task_id_for("default", "order-1")
    for field in ("caws_id", "title", "spec", "created_at", "workflow_id", "submitted_by"):
        assert a[field] == b[field], field
    assert await task_count(api) == 1
    # One workflow, carrying the digest of the body it was started for.
    description = await api.h.client.get_workflow_handle(a["workflow_id"]).describe()
    assert MEMO_DIGEST in await description.memo()


async def test_same_key_with_another_body_is_refused(api: ApiUnderTest) -> None:
    headers = {"Idempotency-Key": "order-2"}
    first = await api.http.post("/api/v1/tasks", json=spec(api), headers=headers)
    assert first.status_code == 201
    other = await api.http.post(
        "/api/v1/tasks", json=spec(api, title="Something else"), headers=headers
    )
    assert other.status_code == 422
    assert other.headers["content-type"].startswith(PROBLEM)
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert await task_count(api) == 1


async def test_a_duplicate_while_the_first_is_being_created_is_409(api: ApiUnderTest) -> None:
    # The state a concurrent duplicate meets: the first request has written the task row
    # and not yet started the workflow.
    task_id = task_id_for("default", "order-3")
    await insert_row(api, task_id)
    response = await api.http.post(
        "/api/v1/tasks", json=spec(api), headers={"Idempotency-Key": "order-3"}
    )
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("/idempotency-in-flight")
    assert response.headers["retry-after"] == "1"


async def test_concurrent_duplicates_create_one_task(api: ApiUnderTest) -> None:
    body = spec(api)
    headers = {"Idempotency-Key": "order-4"}
    responses = await asyncio.gather(
        *(api.http.post("/api/v1/tasks", json=body, headers=headers) for _ in range(6))
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    assert 201 in statuses
    assert {r.json()["id"] for r in responses if r.status_code == 201} == {
        task_id_for("default", "order-4")
    }
    assert await task_count(api) == 1


async def test_a_row_left_by_a_dead_request_is_taken_over(api: ApiUnderTest) -> None:
    task_id = task_id_for("default", "order-5")
    await insert_row(api, task_id, age_s=STALE_AFTER_S + 5)
    response = await api.http.post(
        "/api/v1/tasks", json=spec(api), headers={"Idempotency-Key": "order-5"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["id"] == task_id
    handle = api.h.client.get_workflow_handle(response.json()["workflow_id"])
    assert MEMO_DIGEST in await (await handle.describe()).memo()


async def test_keys_are_scoped_to_the_tenant(api: ApiUnderTest) -> None:
    other = api.client(await api.key("other-op", "operator", tenant="other"))
    headers = {"Idempotency-Key": "shared-key"}
    mine = await api.http.post("/api/v1/tasks", json=spec(api), headers=headers)
    theirs = await other.post("/api/v1/tasks", json=spec(api, title="Theirs"), headers=headers)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


async def test_key_bounds(api: ApiUnderTest) -> None:
    for bad in ("", "x" * 256, "has space"):
        response = await api.http.post(
            "/api/v1/tasks", json=spec(api), headers={"Idempotency-Key": bad}
        )
        assert response.status_code == 422, bad
    assert await task_count(api) == 0


async def insert_row(api: ApiUnderTest, task_id: str, age_s: float = 0) -> None:
    engine = make_engine(api.h.settings.effective_database_url)
    try:
        async with session_maker(engine)() as session:
            await records.insert_task(
                session,
                task_id=task_id,
                caws_id="FEAT-0001",
                title="in flight",
                risk_tier=2,
                mode="feature",
                execution_mode="strict",
                max_iterations=3,
                workflow_id=f"task-{task_id}",
                spec={},
                submitted_by="tester",
                tenant="default",
                created_at=utcnow() - timedelta(seconds=age_s),
            )
    finally:
        await engine.dispose()
