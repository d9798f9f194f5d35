"""GET /metrics on the API: requests counted by route template, bounded labels, and a text
promtool accepts. The API runs over real HTTP with Temporal, a worker and an executor."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from agency.asgi_thread import free_port, serve_app
from agency.db import records
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database
from agency.metrics import http as http_metrics
from agency.metrics.http import HANDLED
from agency.settings import Settings
from api.app import create_app
from council.validation import parse_task_spec
from tests.agency.db.factories import as_stored_before_full_projection
from tests.api.conftest import ApiUnderTest
from tests.support.keys import bearer, make_key
from tests.support.metrics import promtool_check, samples, value
from tests.support.repos import make_repo, task_spec

REQUESTS = "agency_http_requests_total"
DURATIONS = "agency_http_request_duration_seconds_count"
TASK_ROUTE = "/api/v1/tasks/{task_id}"


async def scrape(api: ApiUnderTest) -> str:
    # No key: scrapers call /metrics as they call /health.
    response = await api.client(None).get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text


def count(text: str, **labels: str) -> float:
    return samples(text, REQUESTS).get(tuple(sorted(labels.items())), 0.0)


async def test_requests_are_counted_by_route_template(api: ApiUnderTest) -> None:
    before = await scrape(api)
    ids = [str(uuid.uuid4()) for _ in range(5)]
    for task_id in ids:
        assert (await api.http.get(f"/api/v1/tasks/{task_id}")).status_code == 404
    assert (await api.http.get("/no/such/page")).status_code == 404
    after = await scrape(api)

    task_404 = {"route": TASK_ROUTE, "method": "GET", "status": "404"}
    assert count(after, **task_404) - count(before, **task_404) == 5
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert count(after, **unmatched) - count(before, **unmatched) == 1
    # The latency histogram saw the same requests, under the same template.
    key = (("method", "GET"), ("route", TASK_ROUTE))
    assert samples(after, DURATIONS)[key] - samples(before, DURATIONS).get(key, 0) == 5
    # The scrape before this one was counted too, under its own route.
    assert count(after, route="/metrics", method="GET", status="200") >= 1
    assert not any(task_id in after for task_id in ids)


async def test_label_sets_stay_bounded_whatever_the_urls_and_methods(
    api: ApiUnderTest,
) -> None:
    # Warm up every label set the loop below can make, then count them.
    await api.http.get(f"/api/v1/tasks/{uuid.uuid4()}")
    await api.http.get(f"/{uuid.uuid4()}")
    await api.http.request("BREW", f"/{uuid.uuid4()}")
    before = await scrape(api)
    cached = http_metrics._series.cache_info().currsize

    sent: list[str] = []
    for _ in range(150):
        task_id, junk = str(uuid.uuid4()), uuid.uuid4().hex
        sent += [task_id, junk]
        await api.http.get(f"/api/v1/tasks/{task_id}")
        await api.http.get(f"/{junk}/{task_id}")
        await api.http.request(f"X{junk[:8].upper()}", f"/{junk}")
    after = await scrape(api)

    for name in (REQUESTS, DURATIONS):
        assert len(samples(after, name)) == len(samples(before, name)), name
    assert not any(value in after for value in sent)
    # Nor does the middleware's cache of series grow with what clients send.
    assert http_metrics._series.cache_info().currsize == cached
    routes = {dict(k)["route"] for k in samples(after, REQUESTS)}
    assert all(r == "unmatched" or r.startswith("/") for r in routes)
    methods = {dict(k)["method"] for k in samples(after, REQUESTS)}
    # Other tests of this process may have sent TRACE or CONNECT: known methods too.
    assert methods <= http_metrics.HTTP_METHODS | {"other"}


async def test_promtool_accepts_the_api_metrics(api: ApiUnderTest) -> None:
    await api.http.get("/api/v1/tasks")
    await api.http.get(f"/api/v1/tasks/{uuid.uuid4()}")
    await api.client(None).get("/health")
    promtool_check(await scrape(api))


async def test_metrics_are_not_in_the_openapi_document(api: ApiUnderTest) -> None:
    document = (await api.http.get("/openapi.json")).json()
    assert "/metrics" not in document["paths"]
    # OpenMetrics for scrapers that ask for it.
    response = await api.client(None).get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


async def test_dashboard_static_files_are_one_route(api: ApiUnderTest) -> None:
    before = await scrape(api)
    for name in ("app.css", "app.js", "no-such-file.js"):
        await api.client(None).get(f"/ui/static/{name}")
    after = await scrape(api)
    static = {"route": "/ui/static/{path}", "method": "GET"}
    assert count(after, **static, status="200") - count(before, **static, status="200") == 2
    assert count(after, **static, status="404") - count(before, **static, status="404") == 1


async def test_temporal_failures_are_counted_by_how_the_api_handled_them(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'agency.db'}",
        temporal_address=f"127.0.0.1:{free_port()}",  # nobody listens there
    )
    upgrade_database(settings.effective_database_url)
    key = await make_key(settings.effective_database_url, "operator", "operator")
    make_repo(tmp_path / "repo")
    task_id = str(uuid.uuid4())
    await insert_queued_task(settings, task_id, tmp_path / "repo")
    name = "agency_api_dependency_errors_total"
    before = {h: value(name, dependency="temporal", handled=h) for h in HANDLED}
    with serve_app(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url, headers=bearer(key), timeout=60) as http:
            # A submission needs Temporal: 503.
            response = await http.post("/api/v1/tasks", json=task_spec(tmp_path / "repo"))
            assert response.status_code == 503, response.text
            # A running task stored before the projection held its whole state: the
            # projection without the workflow's live state (a degraded read).
            response = await http.get(f"/api/v1/tasks/{task_id}")
            assert response.status_code == 200 and response.json()["live"] is False
            text = (await http.get("/metrics")).text
    moved = {h: value(name, dependency="temporal", handled=h) - before[h] for h in HANDLED}
    assert moved == {"answered_503": 1, "stream_retried": 0, "read_degraded": 1}
    assert f'{name}{{dependency="temporal",handled="answered_503"}}' in text


async def insert_queued_task(settings: Settings, task_id: str, repo: Path) -> None:
    """A queued task as stored before migration 0013 (its read asks the workflow)."""
    engine = make_engine(settings.effective_database_url)
    try:
        async with session_maker(engine)() as session:
            await records.insert_spec_task(
                session,
                parse_task_spec(task_spec(repo)),
                task_id=task_id,
                workflow_id=f"task-{task_id}",
                submitted_by="tester",
                tenant="default",
            )
            await as_stored_before_full_projection(session, task_id)
    finally:
        await engine.dispose()
