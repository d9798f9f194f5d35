"""Many replicas: two API processes, two workflow workers and two executors, one Temporal
and one PostgreSQL database, every part a real process (tests/replicas/cluster.py).

What must hold across replicas, as a user behind a load balancer sees it: a key's rate
limit is one budget whichever API answers; an Idempotency-Key names one task whichever
API gets the repeat; a live stream on one API shows an intervention made through the
other; and tasks submitted to either complete with their change applied exactly once.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.faults.deployment import wait_until
from tests.faults.tasks import Submitted, Tasks, agent_running, task_body
from tests.replicas.cluster import Cluster
from tests.replicas.sse import StreamReader
from tests.support.keys import bearer, make_key
from tests.support.postgres import fresh_postgres_database
from tests.support.repos import git, make_repo

pytestmark = [pytest.mark.replicas, pytest.mark.timeout(600)]

VIEWER_QUOTA = 8


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with fresh_postgres_database() as url:
        running = Cluster(tmp_path_factory.mktemp("replicas"), url, viewer_quota=VIEWER_QUOTA)
        try:
            running.up()
            yield running
        except BaseException:
            print(running.tails())
            raise
        finally:
            running.down()


@pytest.fixture
def tasks(cluster: Cluster, tmp_path: Path) -> Iterator[dict[str, Tasks]]:
    clients = {r: Tasks(cluster.api_url(r), cluster.admin_key, tmp_path / r) for r in "ab"}
    try:
        yield clients
    finally:
        for client in clients.values():
            client.close()


def new_key(cluster: Cluster, name: str, role: str) -> str:
    return asyncio.run(make_key(cluster.database_url, name, role))  # type: ignore[arg-type]


def test_a_keys_rate_limit_is_one_budget_across_both_apis(cluster: Cluster) -> None:
    key = new_key(cluster, "busy-viewer", "viewer")
    answers = []
    for i in range(VIEWER_QUOTA + 2):
        replica = "ab"[i % 2]
        answers.append(
            httpx.get(f"{cluster.api_url(replica)}/api/v1/tasks", headers=bearer(key), timeout=10)
        )
    assert [r.status_code for r in answers] == [200] * VIEWER_QUOTA + [429, 429]
    remaining = [r.headers["RateLimit"].split(";")[1] for r in answers[:VIEWER_QUOTA]]
    assert remaining == [f"r={n}" for n in range(VIEWER_QUOTA - 1, -1, -1)]
    for refused in answers[VIEWER_QUOTA:]:
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/rate-limited")
        assert refused.headers["RateLimit-Policy"] == f'"viewer";q={VIEWER_QUOTA};w=60'
        assert int(refused.headers["Retry-After"]) >= 1


def test_a_key_revoked_through_one_api_is_refused_by_the_other(cluster: Cluster) -> None:
    # Each API keeps a key's row for up to a second (agency/db/key_cache.py); the
    # revocation's notice drops it on the other API too.
    key = new_key(cluster, "leaving-operator", "operator")
    key_id = key.split("_")[1]
    for replica in "ab":
        for _ in range(2):  # the second answer comes from the API's cache
            seen = httpx.get(f"{cluster.api_url(replica)}/api/v1/keys/me", headers=bearer(key))
            assert seen.status_code == 200, seen.text
    revoked = httpx.delete(
        f"{cluster.api_url('b')}/api/v1/keys/{key_id}", headers=bearer(cluster.admin_key)
    )
    assert revoked.status_code == 200, revoked.text
    refused = httpx.get(f"{cluster.api_url('b')}/api/v1/keys/me", headers=bearer(key))
    assert refused.status_code == 401  # the API that revoked it: at once

    def refused_by_a() -> bool:
        answer = httpx.get(f"{cluster.api_url('a')}/api/v1/keys/me", headers=bearer(key))
        return answer.status_code == 401

    wait_until(refused_by_a, 10, "API a still accepts the revoked key")


def test_an_idempotency_key_names_one_task_across_both_apis(
    cluster: Cluster, tasks: dict[str, Tasks], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    base = git(repo, "rev-parse", "main")
    body = task_body(repo, 0.5)
    headers = {**bearer(cluster.admin_key), "Idempotency-Key": f"once-{uuid.uuid4().hex}"}
    first = httpx.post(f"{cluster.api_url('a')}/api/v1/tasks", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = httpx.post(f"{cluster.api_url('b')}/api/v1/tasks", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    changed = {**body, "title": "Something else"}
    reused = httpx.post(f"{cluster.api_url('b')}/api/v1/tasks", json=changed, headers=headers)
    assert reused.status_code == 422 and reused.json()["type"].endswith("/idempotency-key-reused")
    # One task, run once: one commit on the branch.
    tasks["b"].check_outcome(Submitted(first.json()["id"], repo, base))


def test_the_same_idempotency_key_on_both_apis_at_once_is_one_task(
    cluster: Cluster, tasks: dict[str, Tasks], tmp_path: Path
) -> None:
    """Both replicas get the key at the same moment: one inserts the task row, the other
    finds it taken and answers the same task (or 409 while the first is still starting
    its workflow, and the same task when retried)."""
    repo = make_repo(tmp_path / "repo")
    base = git(repo, "rev-parse", "main")
    body = task_body(repo, 0.5)
    headers = {**bearer(cluster.admin_key), "Idempotency-Key": f"race-{uuid.uuid4().hex}"}

    def submit(replica: str) -> str:
        url = f"{cluster.api_url(replica)}/api/v1/tasks"
        deadline = time.monotonic() + 30
        while True:
            response = httpx.post(url, json=body, headers=headers, timeout=30)
            if response.status_code != 409:
                assert response.status_code == 201, response.text
                return str(response.json()["id"])
            assert time.monotonic() < deadline, "still in flight after 30 s"
            time.sleep(float(response.headers.get("Retry-After", "1")))

    with ThreadPoolExecutor(max_workers=2) as pool:
        ids = list(pool.map(submit, "ab"))
    assert ids[0] == ids[1]
    tasks["a"].check_outcome(Submitted(ids[0], repo, base))


def test_a_stream_on_one_api_shows_an_intervention_made_on_the_other(
    cluster: Cluster, tasks: dict[str, Tasks]
) -> None:
    submitted = tasks["a"].submit(6.0)
    wait_until(lambda: any(agent_running(cluster.executor_dir(r)) for r in "ab"), 60, "the agent")
    url = f"{cluster.api_url('a')}/api/v1/tasks/{submitted.task_id}/events"
    operator = new_key(cluster, "operator", "operator")
    on_b = httpx.Client(base_url=cluster.api_url("b"), headers=bearer(operator), timeout=30)
    with StreamReader(url, cluster.admin_key) as stream, on_b:
        for action in ("pause", "resume"):
            sent = time.monotonic()
            response = on_b.post(f"/api/v1/tasks/{submitted.task_id}/{action}", json={})
            assert response.status_code == 202, response.text
            seen = stream.wait_for(action, within=30, after=sent)
            assert seen.data["actor"] == "operator"
    tasks["b"].check_outcome(submitted)


def test_tasks_submitted_to_both_apis_complete_once(
    cluster: Cluster, tasks: dict[str, Tasks]
) -> None:
    submitted = [tasks[r].submit(1.0) for r in "abab"]
    for i, one in enumerate(submitted):
        # Each checked through the other API than the one it was submitted to.
        audit = tasks["ba"[i % 2]].check_outcome(one)
        assert len([e for e in audit if e["action"] == "applied"]) == 1


def test_intervention_to_stream_latency(
    cluster: Cluster, tasks: dict[str, Tasks], capsys: pytest.CaptureFixture[str]
) -> None:
    """How long an intervention made on B takes to show on a stream on A: from sending
    the POST to the event's arrival (the update's round trip through Temporal, the
    worker's record, then the stream's wake-up), and from the POST's answer (the record
    is committed by then) to the arrival: the stream's own delay."""
    submitted = tasks["a"].submit(15.0)
    wait_until(lambda: any(agent_running(cluster.executor_dir(r)) for r in "ab"), 60, "the agent")
    url = f"{cluster.api_url('a')}/api/v1/tasks/{submitted.task_id}/events"
    whole, stream_only, posts = [], [], []
    on_b = httpx.Client(base_url=cluster.api_url("b"), headers=bearer(cluster.admin_key))
    with StreamReader(url, cluster.admin_key) as stream, on_b:
        for action in ("pause", "resume") * LATENCY_ROUNDS:
            sent = time.monotonic()
            response = on_b.post(f"/api/v1/tasks/{submitted.task_id}/{action}", json={})
            answered = time.monotonic()
            assert response.status_code == 202, response.text
            seen = stream.wait_for(action, within=30, after=sent)
            whole.append(seen.at - sent)
            posts.append(answered - sent)
            stream_only.append(max(0.0, seen.at - answered))
    with capsys.disabled():
        print(f"\nintervention on B -> stream on A: {summary(whole)}")
        print(f"POST answered -> stream on A:     {summary(stream_only)}")
        print(f"the POST on B (update round trip): {summary(posts)}")
    tasks["b"].check_outcome(submitted)


LATENCY_ROUNDS = 10


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"n={len(ordered)} p50 {statistics.median(ordered) * 1e3:.0f} ms, "
        f"p99 {p99 * 1e3:.0f} ms, max {ordered[-1] * 1e3:.0f} ms"
    )
