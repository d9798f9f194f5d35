"""The dashboard in Chromium against the real stack: signing in (a key, a one-time link),
every page (screenshot, axe-core, no request to another host), filters, a live phase
change, approving a strict task, bulk cancel with its preview, what a viewer and another
tenant get, forged POSTs, JavaScript off, and a chat reply streamed by the real model."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.ui.conftest import CHROMIUM, Browsing, Stack, slow_agent

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Chromium is not installed (`make test` installs it as root)"
)


async def expect_text(locator: object, text: str, timeout_ms: float = 60_000) -> None:
    from playwright.async_api import expect

    await expect(locator).to_contain_text(text, timeout=timeout_ms)  # type: ignore[arg-type]


async def expect_visible(locator: object, timeout_ms: float = 60_000) -> None:
    from playwright.async_api import expect

    await expect(locator).to_be_visible(timeout=timeout_ms)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
async def tasks(stack: Stack) -> dict[str, str]:
    """The module's tasks: a finished one in each repository, one rejected, and running
    ones for the live tests (slow agents)."""
    done = await stack.submit("b", title="Add triple to the other repo")
    rejected = await stack.submit(
        "a",
        id="FEAT-0002",
        title="Touch the docs out of scope",
        agent={**slow_agent(0), "env": {"AGENT_SCENARIO": "out_of_scope"}},
    )
    await stack.wait(done, lambda t: t["phase"] == "completed")
    await stack.wait(rejected, lambda t: t["phase"] == "rejected")
    stack.tasks.update(done=done, rejected=rejected)
    return stack.tasks


async def test_sign_in_with_a_key_and_every_page(
    stack: Stack, tasks: dict[str, str], browsing: Browsing
) -> None:
    page = browsing.page
    await browsing.goto("/ui/tasks")
    assert urlsplit(page.url).path == "/ui/sign-in"  # no session: sent to sign in
    await browsing.check_page("sign-in")
    await browsing.sign_in("admin", "/ui/tasks")
    cookie = next(c for c in await browsing.context.cookies() if c["name"] == "agency_ui")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert cookie["expires"] > 0 and stack.keys["admin"] not in cookie["value"]
    await expect_text(page.get_by_test_id("who"), "ada")

    await browsing.goto("/ui/")
    await expect_text(page.get_by_test_id("tiles"), "Waiting for a human")
    await browsing.check_page("overview")
    await browsing.goto("/ui/tasks")
    await browsing.check_page("tasks")
    await browsing.goto(f"/ui/tasks/{tasks['done']}")
    await expect_text(page.locator("[data-testid=provenance] .badge.tone-good").first, "verified")
    await expect_text(page.locator("#execution"), "in scope")
    await browsing.check_page("task")
    await browsing.goto(f"/ui/tasks/{tasks['rejected']}")
    await expect_text(page.locator("#execution"), "excluded by scope.out")
    await browsing.check_page("task-rejected")
    for name in ("chat", "models", "waivers", "keys"):
        await browsing.goto(f"/ui/{name}")
        await browsing.check_page(name)
    assert len(list(stack.artifacts.glob("*.png"))) >= 9


async def test_one_time_link_signs_in_once(stack: Stack, browsing: Browsing) -> None:
    # `agency ui --no-browser` prints the link (made for the CLI's key).
    env = {**os.environ, "AGENCY_API_URL": stack.url, "AGENCY_API_KEY": stack.keys["operator"]}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "agency.cli", "ui", "--no-browser", "--ttl", "60"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"{stack.url}/ui/" in done.stdout and stack.keys["operator"] not in done.stdout
    link = re.search(r"(http://\S+#link=\S+)", done.stdout)
    assert link is not None, done.stdout
    path = link.group(1).removeprefix(stack.url)
    assert path.startswith("/ui/sign-in#link=")
    page = browsing.page
    await browsing.goto(path)
    await page.wait_for_url("**/ui/")
    await expect_text(page.get_by_test_id("who"), "oscar")
    # The token travelled in the fragment only: no request carried it.
    token = path.split("#link=", 1)[1]
    assert not [u for u in browsing.requests if token in u]
    # Used once: the same link again (a fresh browser) is refused.
    await browsing.context.clear_cookies()
    await browsing.goto(path)
    await expect_text(page.locator("[role=alert]"), "already used")


async def test_filters_and_order_are_kept_in_the_url(
    stack: Stack, tasks: dict[str, str], browsing: Browsing
) -> None:
    page = browsing.page
    await browsing.sign_in("viewer", "/ui/tasks")
    await page.select_option("select[name=repo]", str(stack.repos["b"]))
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**/ui/tasks?*repo=*")
    query = parse_qs(urlsplit(page.url).query)
    assert query["repo"] == [str(stack.repos["b"])]
    rows = page.locator("table.tasks tbody tr")
    ids = [await rows.nth(i).get_attribute("data-task") for i in range(await rows.count())]
    assert tasks["done"] in ids and tasks["rejected"] not in ids

    await browsing.goto("/ui/tasks?q=docs+out+of+scope&sort=oldest")
    ids = [await rows.nth(i).get_attribute("data-task") for i in range(await rows.count())]
    assert ids == [tasks["rejected"]]
    assert await page.locator("select[name=sort]").input_value() == "oldest"

    await browsing.goto("/ui/tasks")
    await page.click("[data-count-phase=completed]")
    await page.wait_for_url("**phase=completed*")
    phases = await page.locator("table.tasks [data-phase]").evaluate_all(
        "nodes => nodes.map(n => n.dataset.phase)"
    )
    assert phases and set(phases) == {"completed"}


async def test_live_phase_change_then_approve_a_strict_task(
    stack: Stack, browsing: Browsing
) -> None:
    task_id = await stack.submit(
        "a", title="Strict and watched", execution_mode="strict", agent=slow_agent(6)
    )
    await stack.wait(task_id, lambda t: t["phase"] == "executing")
    page = browsing.page
    await browsing.sign_in("operator", f"/ui/tasks/{task_id}")
    phase = page.get_by_test_id("phase")
    await expect_text(phase, "executing")
    await expect_text(page.get_by_test_id("live-output"), "tick")
    loads = len([u for u in browsing.requests if urlsplit(u).path == f"/ui/tasks/{task_id}"])
    # The phase changes on the page without a reload, over SSE.
    await expect_text(phase, "awaiting approval", 90_000)
    await expect_text(page.get_by_test_id("waiting"), "approve or reject")
    # The list as people who must act see it: what waits for them first (README picture).
    listing = await browsing.context.new_page()
    await listing.goto(f"{stack.url}/ui/tasks")
    first = listing.locator("table.tasks tbody tr").first
    assert await first.get_attribute("data-task") == task_id
    await browsing.check_page("tasks-awaiting", readme=True, page=listing)
    await listing.close()
    assert loads == len(
        [u for u in browsing.requests if urlsplit(u).path == f"/ui/tasks/{task_id}"]
    )

    await page.click("button[data-action=approve]")
    await expect_text(page.get_by_test_id("action-confirm"), "are you sure")
    await page.fill("#confirm-reason", "looked at the diff")
    await page.click("[data-testid=confirm-approve]")
    await expect_text(page.get_by_test_id("action-result"), "Accepted")
    await expect_text(phase, "completed", 60_000)
    # Its provenance record, written last, is verified on the page as it lands.
    verdict = page.locator("[data-testid=provenance] .badge").first
    await expect_text(verdict, "verified", 30_000)
    assert "not" not in await verdict.inner_text()
    audit = await stack.audit(task_id)
    approval = next(a for a in audit if a["action"] == "approve")
    assert approval["actor"] == "oscar" and approval["approval_status"] == "approved"
    await browsing.check_page("task-approved", readme=True)


async def test_bulk_cancel_touches_exactly_the_previewed_tasks(
    stack: Stack, tasks: dict[str, str], browsing: Browsing
) -> None:
    running = [
        await stack.submit("b", title=f"Long run {n}", agent=slow_agent(300)) for n in (1, 2)
    ]
    for task_id in running:
        await stack.wait(task_id, lambda t: t["phase"] == "executing")
    page = browsing.page
    await browsing.sign_in("operator", "/ui/tasks?sort=newest")
    for task_id in [*running, tasks["done"]]:
        await page.check(f"tr[data-task='{task_id}'] input[name=task]")
    await page.fill("#bulk-reason", "clearing the queue")
    await page.click("button[name=action][value=cancel]")
    preview = page.get_by_test_id("bulk-chosen")
    await expect_text(preview, "Long run 1")
    listed = await preview.locator("li").evaluate_all("nodes => nodes.map(n => n.dataset.task)")
    assert sorted(listed) == sorted(running)  # the finished one is skipped, and said so
    await expect_text(page.get_by_test_id("bulk-preview"), "already completed")
    await browsing.check_page("bulk-preview")
    await page.get_by_role("button", name="Cancel these 2").click()
    await expect_text(page.get_by_test_id("bulk-result"), "2 of 2 accepted")
    for task_id in running:
        # The list's rows follow live.
        await expect_text(page.locator(f"tr[data-task='{task_id}'] [data-phase]"), "canceled")
        done = await stack.wait(task_id, lambda t: t["phase"] == "canceled")
        assert done["phase"] == "canceled"
        actors = {a["actor"] for a in await stack.audit(task_id) if a["action"] == "cancel"}
        assert "oscar" in actors


async def test_a_viewer_sees_no_buttons_and_forged_posts_are_refused(
    stack: Stack, browsing: Browsing
) -> None:
    task_id = await stack.submit("a", title="Watched by a viewer", agent=slow_agent(300))
    await stack.wait(task_id, lambda t: t["phase"] == "executing")
    page = browsing.page
    await browsing.sign_in("viewer", f"/ui/tasks/{task_id}")
    await expect_text(page.get_by_test_id("phase"), "executing")
    assert await page.locator("button[data-action]").count() == 0
    assert await page.locator("form[action*='/act/']").count() == 0
    await expect_text(page.locator("#actions"), "viewer key")
    await browsing.goto("/ui/tasks")
    assert await page.locator("input[name=task]").count() == 0
    assert await page.locator("#bulk-form button").count() == 0
    await browsing.check_page("tasks-viewer")

    # The viewer's own valid CSRF token does not make up for its role.
    csrf = await page.locator("input[name=csrf]").first.input_value()
    answer = await page.request.post(
        f"{stack.url}/ui/tasks/{task_id}/act/cancel",
        form={"csrf": csrf, "confirm": "yes"},
        headers={"Origin": stack.url},
    )
    assert answer.status == 403 and "operator role" in await answer.text()

    # An operator's session without the token, or from another site, is refused too.
    await browsing.context.clear_cookies()
    await browsing.sign_in("operator", f"/ui/tasks/{task_id}")
    for form, headers in (
        ({"confirm": "yes"}, {"Origin": stack.url}),
        ({"confirm": "yes", "csrf": "forged"}, {"Origin": stack.url}),
        (
            {"confirm": "yes", "csrf": await page.locator("input[name=csrf]").first.input_value()},
            {"Origin": "http://evil.example"},
        ),
    ):
        answer = await page.request.post(
            f"{stack.url}/ui/tasks/{task_id}/act/cancel", form=form, headers=headers
        )
        assert answer.status == 403, await answer.text()
        assert "not from this dashboard" in await answer.text()
    assert (await stack.task(task_id))["phase"] == "executing"
    assert not [a for a in await stack.audit(task_id) if a["action"] == "cancel"]
    async with stack.http("operator") as http:
        await http.post(f"/api/v1/tasks/{task_id}/cancel", json={"reason": "test over"})


async def test_another_tenants_task_is_not_found(
    stack: Stack, tasks: dict[str, str], browsing: Browsing
) -> None:
    page = browsing.page
    await browsing.sign_in("other", "/ui/tasks")
    assert await page.locator("table.tasks").count() == 0  # nothing of tenant default
    answer = await browsing.goto(f"/ui/tasks/{tasks['done']}")
    assert answer.status == 404
    await expect_text(page.locator("[role=alert]"), "not found")
    assert await page.locator("#execution").count() == 0
    for suffix in ("/provenance", "/stream"):
        response = await page.request.get(f"{stack.url}/ui/tasks/{tasks['done']}{suffix}")
        assert response.status == 404


async def test_reading_and_acting_with_javascript_off(stack: Stack, tasks: dict[str, str]) -> None:
    context = await stack.browser.new_context(java_script_enabled=False)
    try:
        page = await context.new_page()
        await page.goto(f"{stack.url}/ui/sign-in?next=/ui/tasks")
        await page.fill("#key", stack.keys["operator"])
        await page.click("#sign-in-form button[type=submit]")
        await page.wait_for_url("**/ui/tasks")
        await page.click(f"a[href='/ui/tasks/{tasks['rejected']}']")
        await expect_text(page.get_by_test_id("phase"), "rejected")
        await expect_text(page.locator("#council"), "constitutional")
        await page.goto(f"{stack.url}/ui/waivers")
        await page.click("text=Propose a waiver")
        await page.fill("#w-title", "Let the docs change")
        await page.fill("#w-reason", "the docs change is reviewed separately")
        await page.check("input[name=gates][value=scope_boundary]")
        await page.fill("#w-applies", "FEAT-0002")
        await page.fill("input[name=risk_owner]", "oscar")
        await page.click("form.waiver-form button[type=submit]")
        await expect_text(page.locator("[role=status]").first, "created WV-")
        await expect_text(page.get_by_test_id("waivers"), "Let the docs change")
    finally:
        await context.close()


async def test_chat_reply_is_streamed(stack: Stack, browsing: Browsing) -> None:
    page = browsing.page
    frames: list[str] = []

    def watch(ws: object) -> None:
        ws.on("framereceived", lambda payload: frames.append(str(payload)))  # type: ignore[attr-defined]

    page.on("websocket", watch)
    await browsing.sign_in("operator", "/ui/chat")
    await page.fill("#chat-title", "Quick question")
    await page.click("form.inline-create button[type=submit]")
    await page.wait_for_url(re.compile(r".*/ui/chat/[0-9a-f-]{36}$"))
    await expect_text(page.locator("#chat-status"), "Connected")
    await page.fill("#chat-input", "Say hello.")
    await page.click("#chat-form button[type=submit]")
    reply = page.get_by_test_id("reply-final")
    await expect_visible(reply, 120_000)
    assert any('"type":"token"' in f.replace(" ", "") for f in frames)  # streamed, not whole
    final = [f for f in frames if '"final"' in f]
    assert final and (await reply.inner_text()).strip()
    await browsing.check_page("chat-session")
    # Resumable: reloading replays the session (the reply is stored).
    await page.reload()
    await expect_text(page.get_by_test_id("transcript"), "Say hello.")


async def test_key_revocation_ends_the_session(stack: Stack, browsing: Browsing) -> None:
    from tests.support.keys import make_key

    key = await make_key(stack.h.settings.effective_database_url, "temp", "viewer")
    stack.keys["temp"] = key
    page = browsing.page
    await browsing.sign_in("temp", "/ui/tasks")
    async with stack.http("admin") as http:
        me = key.split("_")[1]
        assert (await http.delete(f"/api/v1/keys/{me}")).status_code == 200
    await browsing.goto("/ui/tasks")
    assert urlsplit(page.url).path == "/ui/sign-in"
    await asyncio.sleep(0)


async def test_agency_up_prints_the_dashboard_and_a_sign_in_link(
    stack: Stack, browsing: Browsing, tmp_path: Path
) -> None:
    from rich.console import Console

    from agency.demo.run import print_urls
    from agency.settings import Settings
    from agency.stack import Stack as LocalStack

    (tmp_path / "admin.key").write_text(stack.keys["admin"] + "\n")
    port = int(urlsplit(stack.url).port or 0)
    printed = Console(record=True, width=240)
    # What `agency up` (and `agency demo`) print once the stack is up.
    print_urls(LocalStack(Settings(data_dir=tmp_path, api_port=port)), printed)
    text = printed.export_text()
    assert f"Dashboard:   {stack.url}/ui/" in text and stack.keys["admin"] not in text
    link = re.search(r"(http://\S+#link=\S+)", text)
    assert link is not None, text
    await browsing.goto(link.group(1).removeprefix(stack.url))
    await browsing.page.wait_for_url("**/ui/")
    await expect_text(browsing.page.get_by_test_id("who"), "ada")


async def test_overview_tiles_follow_live(stack: Stack, browsing: Browsing) -> None:
    async def running() -> int:
        async with stack.http("viewer") as http:
            return int((await http.get("/api/v1/metrics")).json()["running"])

    for _ in range(120):  # earlier tests' cancellations land
        if await running() == 0:
            break
        await asyncio.sleep(0.5)
    assert await running() == 0
    page = browsing.page
    await browsing.sign_in("viewer", "/ui/")
    tile = page.locator("[data-kpi=running]")
    await expect_text(tile, "0")
    task_id = await stack.submit("b", title="Counted live", agent=slow_agent(300))
    # The tile changes without a reload (a `kpis` event over SSE every 2 s).
    await expect_text(tile, "1", 30_000)
    async with stack.http("operator") as http:
        await http.post(f"/api/v1/tasks/{task_id}/cancel", json={"reason": "counted"})
    await expect_text(tile, "0", 60_000)


async def test_admin_manages_keys_and_waivers(stack: Stack, browsing: Browsing) -> None:
    page = browsing.page
    async with stack.http("operator") as http:
        proposed = await http.post(
            "/api/v1/waivers",
            json={
                "title": "Bigger change for the migration",
                "reason": "the migration touches many files at once",
                "reason_code": "architectural_refactor",
                "gates": ["budget_limit"],
                "delta": {"max_files": 10, "max_loc": 500},
                "applies_to": ["FEAT-0009"],
                "risk_owner": "oscar",
                "expires_at": "2099-01-01T00:00:00Z",
            },
        )
    assert proposed.status_code == 201, proposed.text
    waiver = proposed.json()["id"]
    await browsing.sign_in("admin", "/ui/keys")
    await page.click("text=Create a key")
    await page.fill("input[name=name]", "release-bot")
    await page.select_option("select[name=role]", "operator")
    await page.click("form[action='/ui/keys'] button[type=submit]")
    shown = page.get_by_test_id("new-key")
    await expect_text(shown, "shown this once")
    raw = (await shown.locator("code.key").inner_text()).strip()
    assert raw.startswith("aa_")
    prefix = "_".join(raw.split("_")[:2])
    row = page.locator("[data-testid=keys] tr", has_text=prefix)
    await row.get_by_role("button", name=f"Revoke {prefix}").click()
    await expect_text(page.locator("main"), "Its next request is refused")
    await page.get_by_role("button", name="Revoke the key").click()
    await expect_text(page.locator(".flash"), f"revoked {prefix}")
    async with stack.http() as http:
        assert (
            await http.get("/api/v1/keys/me", headers={"Authorization": f"Bearer {raw}"})
        ).status_code == 401

    await browsing.goto("/ui/waivers")
    await page.fill(f"#approve-{waiver}", "fine for the migration")
    await page.locator(f"form[action='/ui/waivers/{waiver}/approve'] button").click()
    await expect_text(page.locator(".flash"), f"approved {waiver}")
    await expect_text(page.get_by_test_id("waivers"), "ada")
    await page.fill(f"#revoke-{waiver}", "the migration is done")
    await page.locator(f"form[action='/ui/waivers/{waiver}/revoke'] button").click()
    await page.get_by_role("button", name="Revoke the waiver").click()
    await expect_text(page.locator(".flash"), f"revoked {waiver}")
    async with stack.http("viewer") as http:
        assert (await http.get(f"/api/v1/waivers/{waiver}")).json()["status"] == "revoked"
