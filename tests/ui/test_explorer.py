"""The explorer page in a real browser: run a query, see the rows, a refusal's panel,
save and load a query; axe-core checks the page (tests/ui/conftest.py)."""

from __future__ import annotations

import pytest

from tests.ui.conftest import CHROMIUM, Browsing, Stack

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Chromium is not installed (`make test` installs it as root)"
)


async def expect_text(locator: object, text: str, timeout_ms: float = 30_000) -> None:
    from playwright.async_api import expect

    await expect(locator).to_contain_text(text, timeout=timeout_ms)  # type: ignore[arg-type]


async def test_run_refuse_save_and_load(stack: Stack, browsing: Browsing) -> None:
    page = browsing.page
    await browsing.sign_in("admin", "/ui/explorer")
    await page.fill("#ex-sql", "SELECT name, role FROM api_keys WHERE role = :role")
    await page.fill("#ex-params", "role=viewer")
    await page.get_by_role("button", name="Run").click()
    await expect_text(page.get_by_test_id("explorer-summary"), "row(s)")
    await expect_text(page.get_by_test_id("explorer-result"), "viewer")
    await browsing.check_page("explorer")

    await page.fill("#ex-sql", "SELECT hash FROM api_keys")
    await page.get_by_role("button", name="Run").click()
    await expect_text(page.locator(".problem"), "hidden from the explorer")

    await page.fill("#ex-sql", "SELECT count(*) AS n FROM tasks")
    await page.click("text=Save this query")
    await page.fill("input[name=name]", "how many tasks")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect_text(page.locator(".flash"), "Saved")
    await page.get_by_role("link", name="how many tasks").click()
    await expect_text(page.locator("#ex-sql"), "SELECT count(*) AS n FROM tasks")
