"""/ui/explorer without a browser: sign in with a key, run, download, save, delete; a
refusal is a problem panel; only admins see the page."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from agency.asgi_thread import free_port, serve_app
from agency.db.engine import make_engine, session_maker
from agency.db.migrate import upgrade_database
from agency.settings import Settings
from api.app import create_app
from api.ui.session import CSRF_FIELD
from tests.agency.db.factories import add_task
from tests.support.keys import make_key


async def _seed(url: str) -> None:
    engine = make_engine(url)
    try:
        async with session_maker(engine)() as session:
            await add_task(session, title="visible")
            await add_task(session, title="hidden", tenant="other")
    finally:
        await engine.dispose()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    data = tmp_path / "data"
    data.mkdir()
    settings = Settings(data_dir=data, temporal_address=f"127.0.0.1:{free_port()}")
    upgrade_database(settings.effective_database_url)
    asyncio.run(_seed(settings.effective_database_url))
    with serve_app(create_app(settings)) as url:
        yield url, settings


async def signed_in(url: str, key: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=url, timeout=30)
    form = await http.get("/ui/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text
    done = await http.post("/ui/sign-in", data={"csrf": csrf.group(1), "key": key, "next": "/ui/"})
    assert done.status_code == 303, done.text
    return http


def token(html: str) -> str:
    found = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


@pytest.fixture
async def admin(served: tuple[str, Settings]) -> AsyncIterator[httpx.AsyncClient]:
    url, settings = served
    http = await signed_in(url, await make_key(settings.effective_database_url, "root"))
    try:
        yield http
    finally:
        await http.aclose()


async def test_run_download_save_delete(admin: httpx.AsyncClient) -> None:
    shown = await admin.get("/ui/explorer")
    assert shown.status_code == 200 and "Explorer" in shown.text
    csrf = token(shown.text)
    form = {CSRF_FIELD: csrf, "sql": "SELECT title FROM tasks", "params": ""}
    ran = await admin.post("/ui/explorer", data={**form, "action": "run"})
    assert ran.status_code == 200 and "visible" in ran.text and ">hidden<" not in ran.text
    assert "1 row(s)" in ran.text
    as_csv = await admin.post("/ui/explorer", data={**form, "action": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines() == ["title", "visible"]
    as_json = await admin.post("/ui/explorer", data={**form, "action": "json"})
    assert as_json.json()["rows"] == [["visible"]]

    bad = await admin.post(
        "/ui/explorer", data={**form, "sql": "DELETE FROM tasks", "action": "run"}
    )
    assert bad.status_code == 422 and "Query refused" in bad.text and "only reads" in bad.text

    param = {**form, "sql": "SELECT :n AS n", "params": "n=41", "action": "run"}
    assert ">41<" in (await admin.post("/ui/explorer", data=param)).text

    unnamed = await admin.post("/ui/explorer", data={**form, "action": "save", "name": " "})
    assert unnamed.status_code == 422 and "a name to save it under" in unnamed.text
    saved = await admin.post(
        "/ui/explorer", data={**form, "action": "save", "name": "titles", "shared_with": "admin"}
    )
    assert saved.status_code == 303
    page = (await admin.get("/ui/explorer")).text
    query_id = re.search(r'/ui/explorer\?saved=([0-9a-f]{12})"', page)
    assert query_id and "titles" in page
    loaded = await admin.get(f"/ui/explorer?saved={query_id.group(1)}")
    assert "SELECT title FROM tasks</textarea>" in loaded.text
    gone = await admin.post(
        f"/ui/explorer/saved/{query_id.group(1)}/delete", data={CSRF_FIELD: csrf}
    )
    assert gone.status_code == 303
    assert "titles" not in (await admin.get("/ui/explorer")).text
    # Without the CSRF token nothing runs.
    refused = await admin.post("/ui/explorer", data={"sql": "SELECT 1", "action": "run"})
    assert refused.status_code == 403


async def test_only_admins_see_the_page(served: tuple[str, Settings]) -> None:
    url, settings = served
    key = await make_key(settings.effective_database_url, "op", "operator")
    http = await signed_in(url, key)
    try:
        page = await http.get("/ui/explorer")
        assert page.status_code == 403
        assert 'href="/ui/explorer"' not in (await http.get("/ui/")).text
    finally:
        await http.aclose()
