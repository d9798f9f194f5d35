"""The observability pages in a real browser: alerts (a firing alert, an acknowledged
and silenced one; no buttons for a viewer), trends (six weeks of history and the
module's own tasks, with a forecast) and the explorer reached from the navigation; each
checked by axe-core and for requests to other hosts (tests/ui/conftest.py).
`AGENCY_UI_README_IMAGES=docs/images` writes the README's pictures of the alerts and the
trends pages.

The history is written by the database's own record path (tests/agency/db/factories.py,
as tests/api/test_trends.py does): tasks without workflows, dated in the past, so that
the trends have complete days to draw and to fit; the alerts are fired as the evaluator
fires them (agency.alerts.store.reconcile). The module's three real tasks run through
the stack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agency.alerts.store import Firing, reconcile
from agency.db import apply_record
from agency.db.engine import make_engine, session_maker
from agency.db.types import utcnow
from tests.agency.db.factories import add_task, record
from tests.ui.conftest import CHROMIUM, Browsing, Stack, slow_agent

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Chromium is not installed (`make test` installs it as root)"
)

# What the evaluator writes (agency/alerts/evaluate.py), for two of the default SLOs.
FIRING = [
    Firing(
        slo="task_success",
        severity="page",
        summary="SLO task_success is burning its error budget (page)",
        description="Tasks the system carried to an end rather than failed.",
    ),
    Firing(
        slo="approval_latency",
        severity="ticket",
        summary="SLO approval_latency is burning its error budget (ticket)",
        description="Approvals a human answered within 4 hours.",
    ),
]


# The history's days and how its tasks went (phases after submission).
HISTORY_DAYS = 41
COMPLETED = ["validating", "plan_review", "executing", "gating", "result_review"]
COMPLETED += ["applying", "recording", "completed"]
APPROVED = [*COMPLETED[:5], "awaiting_approval", *COMPLETED[5:]]
REJECTED = ["validating", "plan_review", "rejected"]
FAILED = ["validating", "plan_review", "executing", "failed"]
# Submissions by weekday (Monday first), before a slow rise over the weeks.
WEEKDAY_LOAD = [5, 6, 6, 5, 4, 1, 1]
# Some days busier or quieter than their weekday, so that the fit has residuals.
NOISE = [0, 1, -1, 0, 2, -1, 0, 1, 0, -1, 1]


async def expect_text(locator: object, text: str, timeout_ms: float = 30_000) -> None:
    from playwright.async_api import expect

    await expect(locator).to_contain_text(text, timeout=timeout_ms)  # type: ignore[arg-type]


async def write_history(stack: Stack) -> int:
    """Six weeks of tasks of the default tenant, each day's from 09:00 UTC on; how many."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    engine = make_engine(stack.h.settings.effective_database_url)
    written = 0
    try:
        async with session_maker(engine)() as session:
            for days in range(HISTORY_DAYS, 0, -1):
                day = today - timedelta(days=days)
                rise = (HISTORY_DAYS - days) // 10
                count = WEEKDAY_LOAD[day.weekday()] + rise + NOISE[days % len(NOISE)]
                for n in range(count):
                    written += 1
                    path = (
                        FAILED
                        if written % 13 == 0
                        else REJECTED
                        if written % 7 == 0
                        else APPROVED
                        if written % 4 == 0
                        else COMPLETED
                    )
                    created = day + timedelta(hours=9 + n)
                    step = timedelta(minutes=2 + (written % 5))
                    task = await add_task(session, title=f"History {written}", created_at=created)
                    for seq, phase in enumerate(path, start=1):
                        at = created + seq * step
                        assert await apply_record(session, record(task.id, seq, phase=phase, at=at))
    finally:
        await engine.dispose()
    return written


async def fire_alerts(stack: Stack) -> None:
    """Two alerts fired as the evaluator would, one acknowledged, and a silence."""
    engine = make_engine(stack.h.settings.effective_database_url)
    try:
        async with session_maker(engine)() as session:
            await reconcile(session, FIRING, now=utcnow(), repeat=timedelta(hours=4))
    finally:
        await engine.dispose()
    async with stack.http("operator") as http:
        listed = (await http.get("/api/v1/alerts")).json()["items"]
        ticket = next(a for a in listed if a["slo"] == "approval_latency")
        acked = await http.post(
            f"/api/v1/alerts/{ticket['id']}/ack", json={"reason": "a reviewer is out today"}
        )
        assert acked.status_code == 200, acked.text
        silence = {
            "matchers": [{"name": "slo", "value": "approval_latency"}],
            "ends_at": (utcnow() + timedelta(hours=8)).isoformat(),
            "reason": "approvals are slow while the reviewer is out",
        }
        made = await http.post("/api/v1/silences", json=silence)
        assert made.status_code == 201, made.text


@pytest.fixture(scope="module")
async def records(stack: Stack) -> int:
    """The history, then three tasks through the stack (one completed, one rejected by
    the council, one canceled), then the alerts; how many tasks the tenant has."""
    history = await write_history(stack)
    done = await stack.submit("b", title="Add triple to the other repo")
    rejected = await stack.submit(
        "a",
        id="FEAT-0002",
        title="Touch the docs out of scope",
        agent={**slow_agent(0), "env": {"AGENT_SCENARIO": "out_of_scope"}},
    )
    running = await stack.submit("a", id="FEAT-0003", title="A long run", agent=slow_agent(300))
    await stack.wait(running, lambda t: t["phase"] == "executing")
    async with stack.http("operator") as http:
        canceled = await http.post(
            f"/api/v1/tasks/{running}/cancel", json={"reason": "not needed after all"}
        )
        assert canceled.status_code in (200, 202), canceled.text
    await stack.wait(done, lambda t: t["phase"] == "completed")
    await stack.wait(rejected, lambda t: t["phase"] == "rejected")
    await stack.wait(running, lambda t: t["phase"] == "canceled")
    await fire_alerts(stack)
    return history + 3


async def test_alerts_page_for_an_admin_and_a_viewer(
    stack: Stack, records: int, browsing: Browsing
) -> None:
    page = browsing.page
    await browsing.sign_in("admin", "/ui/alerts")
    await expect_text(page.get_by_role("heading", level=1), "Alerts")
    alerts = page.get_by_test_id("alerts")
    await expect_text(alerts.locator("tbody tr", has_text="task_success"), "firing")
    await expect_text(alerts.locator("tbody tr", has_text="approval_latency"), "acknowledged")
    await expect_text(alerts, "silenced by #1")
    await expect_text(page.get_by_test_id("silences"), "slo=approval_latency")
    # An admin may act: the firing alert can be acknowledged, both resolved.
    assert await page.get_by_role("button", name="Acknowledge").count() == 1
    assert await page.get_by_role("button", name="Resolve").count() == 2
    await browsing.check_page("alerts", readme=True, readme_height=900)

    # A viewer sees the same alerts and no button to act on them.
    viewer = await browsing.context.browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        other = await viewer.new_page()
        await other.goto(f"{stack.url}/ui/sign-in?next=/ui/alerts")
        await other.fill("#key", stack.keys["viewer"])
        await other.click("#sign-in-form button[type=submit]")
        await other.wait_for_url("**/ui/alerts*")
        await expect_text(other.get_by_test_id("alerts"), "task_success")
        for name in ("Acknowledge", "Resolve", "Expire", "Silence"):
            assert await other.get_by_role("button", name=name).count() == 0, name
        assert await other.locator("form[action^='/ui/alerts/']").count() == 0
        # Nor the explorer, which is for admins.
        main = other.get_by_role("navigation", name="Main")
        assert await main.get_by_role("link", name="Explorer").count() == 0
        assert await main.get_by_role("link", name="Trends").count() == 1
    finally:
        await viewer.close()


async def test_trends_page_counts_the_tasks_and_forecasts(
    stack: Stack, records: int, browsing: Browsing
) -> None:
    page = browsing.page
    await browsing.sign_in("admin", "/ui/trends")
    await expect_text(page.get_by_role("heading", level=1), "Trends")
    for series in ("tasks", "outcomes", "durations", "approvals", "interventions"):
        assert await page.locator(f"#trend-{series}-h").count() == 1, series
        # uPlot drew a chart for each series.
        await page.locator(f"#trend-{series} canvas").first.wait_for(timeout=30_000)
    # Six weeks of days are enough to forecast submissions, with the backtest's error.
    await expect_text(page.get_by_test_id("forecast-tasks"), "Forecast:")
    await expect_text(page.get_by_test_id("forecast-tasks"), "mean absolute error")
    # The tables hold every task of the tenant: submitted, then finished.
    tasks = page.locator("#trend-tasks-h ~ details table").first
    outcomes = page.locator("#trend-outcomes-h ~ details table").first
    assert await total(tasks) == records
    assert await total(outcomes) == records
    await browsing.check_page("trends", readme=True, readme_height=900)

    # Two days of hours are too few to forecast: the page says why.
    await browsing.goto("/ui/trends?bucket=hour&days=2")
    await expect_text(page.get_by_test_id("forecast-tasks"), "No forecast: not enough data")
    await browsing.check_page("trends-hourly")


async def test_explorer_page_is_reachable_from_the_navigation(
    stack: Stack, records: int, browsing: Browsing
) -> None:
    page = browsing.page
    await browsing.sign_in("admin", "/ui/")
    nav = page.get_by_role("navigation", name="Main")
    await nav.get_by_role("link", name="Explorer").click()
    await page.wait_for_url("**/ui/explorer")
    await expect_text(page.get_by_role("heading", level=1), "Explorer")
    assert await nav.get_by_role("link", name="Explorer").get_attribute("aria-current") == "page"
    await page.fill("#ex-sql", "SELECT phase, count(*) AS n FROM tasks GROUP BY phase")
    await page.get_by_role("button", name="Run").click()
    await expect_text(page.get_by_test_id("explorer-result"), "canceled")
    await browsing.check_page("explorer-phases")


async def total(table: object) -> float:
    """The sum of a trend table's Value column (the second)."""
    cells = await table.locator("tbody tr td:nth-child(2)").all_text_contents()  # type: ignore[attr-defined]
    return sum(float(c) for c in cells if c.strip() not in ("", "—"))
