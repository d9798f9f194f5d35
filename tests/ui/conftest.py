"""The dashboard in a real browser against the real stack.

One stack for the module (as tests/api/conftest.py builds it: the Temporal dev server, a
workflow worker, an executor, SQLite, the API with the dashboard served over HTTP on
loopback) and one Chromium (Debian's, driven by Playwright; `make test` installs it when
run as root; never `playwright install`). Each test gets a fresh browser context
(no cookies), records every request its pages make, and writes a screenshot of each
page it checks under its tmp path. `AGENCY_UI_README_IMAGES=docs/images` also copies the
task list and task detail screenshots there, and those of the alerts and trends pages
(test_observability.py): how the README's pictures are made.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from agency.asgi_thread import serve_app
from agency.db.keys import Role
from api.app import create_app
from tests.support.harness import Harness, harness
from tests.support.keys import bearer, make_key
from tests.support.repos import make_repo

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
README_IMAGES = "AGENCY_UI_README_IMAGES"
# Screenshots the README shows, by the name the README gives them.
README_NAMES = {"tasks-awaiting": "tasks", "task-approved": "task"}
# Chat replies: a few tokens of the real default model.
CHAT_MAX_TOKENS = 8
# Results of axe-core that fail a page.
SERIOUS = ("serious", "critical")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Chromium is not installed (`make test` installs it as root)"
)


@dataclass
class Stack:
    url: str
    h: Harness
    keys: dict[str, str]
    repos: dict[str, Path]
    artifacts: Path
    browser: Any
    tasks: dict[str, str] = field(default_factory=dict)

    def http(self, who: str = "admin") -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=bearer(self.keys[who]), timeout=30)

    async def submit(self, repo: str = "a", **overrides: Any) -> str:
        from tests.support.repos import task_spec

        spec = task_spec(self.repos[repo], **overrides)
        async with self.http("operator") as http:
            answer = await http.post("/api/v1/tasks", json=spec)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def task(self, task_id: str) -> dict[str, Any]:
        async with self.http() as http:
            answer = await http.get(f"/api/v1/tasks/{task_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def wait(
        self, task_id: str, predicate: Callable[[dict[str, Any]], bool], within: float = 90
    ) -> dict[str, Any]:
        import asyncio

        deadline = time.monotonic() + within
        task = await self.task(task_id)
        while not predicate(task):
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} stuck in {task['phase']}")
            await asyncio.sleep(0.3)
            task = await self.task(task_id)
        return task

    async def audit(self, task_id: str) -> list[dict[str, Any]]:
        async with self.http() as http:
            answer = await http.get(f"/api/v1/tasks/{task_id}/audit")
        return list(answer.json()["items"])


def slow_agent(seconds: float) -> dict[str, Any]:
    return {
        "argv": [sys.executable, "tools/agent.py"],
        "timeout_s": 600,
        "env": {"AGENT_SCENARIO": "slow", "AGENT_SECONDS": str(seconds)},
    }


@pytest.fixture(scope="module")
async def stack(dev_env: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    from playwright.async_api import async_playwright

    root = tmp_path_factory.mktemp("ui")
    async with harness(dev_env.client, root) as h:
        keys: dict[str, str] = {}
        people: list[tuple[str, str, Role, str]] = [
            ("admin", "ada", "admin", "default"),
            ("operator", "oscar", "operator", "default"),
            ("viewer", "vera", "viewer", "default"),
            ("other", "otto", "admin", "acme"),
        ]
        for who, name, role, tenant in people:
            keys[who] = await make_key(h.settings.effective_database_url, name, role, tenant)
        settings = h.settings.model_copy(update={"inference_max_tokens": CHAT_MAX_TOKENS})
        repos = {"a": h.repo, "b": make_repo(root / "other-repo")}
        artifacts = root / "screenshots"
        artifacts.mkdir()
        with serve_app(create_app(settings)) as url:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                try:
                    yield Stack(url, h, keys, repos, artifacts, browser)
                finally:
                    await browser.close()


@dataclass
class Browsing:
    """A browser context of one test: its page, what it requested, what it logged."""

    stack: Stack
    context: Any
    page: Any
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    async def sign_in(self, who: str, next_path: str = "/ui/") -> None:
        page = self.page
        await page.goto(f"{self.stack.url}/ui/sign-in?next={next_path}")
        await page.fill("#key", self.stack.keys[who])
        await page.click("#sign-in-form button[type=submit]")
        await page.wait_for_url(f"**{next_path}*")

    async def goto(self, path: str) -> Any:
        return await self.page.goto(self.stack.url + path)

    async def check_page(
        self, name: str, *, readme: bool = False, readme_height: int = 1500, page: Any = None
    ) -> None:
        """A screenshot, axe-core's verdict and the page's requests, for the page shown.
        With `readme`, the top `readme_height` pixels are the README's picture."""
        page = page or self.page
        await page.wait_for_load_state("networkidle")
        shot = self.stack.artifacts / f"{name}.png"
        await page.screenshot(path=str(shot), full_page=True)
        target = os.environ.get(README_IMAGES)
        if readme and target:
            # The README's picture: the top of the page, readable at the README's width.
            picture = self.stack.artifacts / f"readme-{name}.png"
            top = {"x": 0, "y": 0, "width": 1280, "height": readme_height}
            await page.screenshot(path=str(picture), full_page=True, clip=top)
            copy_to_readme(picture, Path(target) / f"dashboard-{README_NAMES.get(name, name)}.png")
        violations = await axe(page)
        assert not violations, (
            f"{name}: accessibility violations: {json.dumps(violations, indent=1)}"
        )
        foreign = [u for u in self.requests if not u.startswith(self.stack.url)]
        assert not foreign, f"{name}: requests to other hosts: {foreign}"
        errors = [m for m in self.console if "error" in m.split(":", 1)[0]]
        assert not errors, f"{name}: console errors: {errors}"


def copy_to_readme(shot: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, target)


async def axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page (injected through the
    DevTools protocol: nothing is loaded from anywhere)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text())
    found = await page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary),
            }));
        }"""
    )
    return [v for v in found if v["impact"] in SERIOUS]


@pytest.fixture
async def browsing(stack: Stack) -> AsyncIterator[Browsing]:
    context = await stack.browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    session = Browsing(stack, context, page)
    # Every page of the context: its requests (WebSockets too), console and errors.
    context.on("request", lambda request: session.requests.append(request.url))
    context.on("console", lambda message: session.console.append(f"{message.type}: {message.text}"))
    context.on("weberror", lambda error: session.console.append(f"error: {error.error}"))
    context.on(
        "page",
        lambda other: other.on(
            "websocket", lambda ws: session.requests.append(ws.url.replace("ws", "http", 1))
        ),
    )
    page.on("websocket", lambda ws: session.requests.append(ws.url.replace("ws", "http", 1)))
    try:
        yield session
    finally:
        await context.close()


OpenPage = Callable[[str], Awaitable[Any]]
