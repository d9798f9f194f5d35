"""The dashboard's alerts page over HTTP: state in words, forms with the CSRF token for
operators only, and each form reaching the API's route with the signed-in key as actor."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.api.alerts_support import Served, api, fire, served

__all__ = ["api", "served"]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@asynccontextmanager
async def signed_in(api: Served, role: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.url, headers={"Origin": api.url}) as http:
        form = await http.get("/ui/sign-in")
        token = CSRF.search(form.text)
        assert token, form.text
        done = await http.post("/ui/sign-in", data={"csrf": token.group(1), "key": api.keys[role]})
        assert done.status_code == 303, done.text
        yield http


async def test_viewers_see_alerts_in_words_and_no_buttons(api: Served) -> None:
    await fire(api, ("task_success", "page"))
    async with signed_in(api, "viewer") as viewer:
        page = await viewer.get("/ui/alerts")
        assert page.status_code == 200
        assert 'class="badge tone-bad">firing</span>' in page.text
        assert "task_success" in page.text and "/ui/alerts/1/ack" not in page.text
        assert 'href="/ui/alerts"' in page.text  # in the navigation
        # A viewer's post is refused by the route's own role check.
        csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        refused = await viewer.post("/ui/alerts/1/ack", data={"csrf": csrf, "reason": "x"})
        assert refused.status_code == 403


async def test_operators_ack_silence_expire_and_resolve_from_the_page(api: Served) -> None:
    await fire(api, ("task_success", "page"))
    async with signed_in(api, "operator") as operator:
        page = await operator.get("/ui/alerts")
        assert 'action="/ui/alerts/1/ack"' in page.text
        csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        # Without the token: refused.
        assert (await operator.post("/ui/alerts/1/ack", data={"reason": "x"})).status_code == 403

        acked = await operator.post("/ui/alerts/1/ack", data={"csrf": csrf, "reason": "on it"})
        assert acked.status_code == 303
        page = await operator.get(acked.headers["location"])
        assert ">acknowledged</span>" in page.text and "acknowledged by otto" in page.text
        again = await operator.post("/ui/alerts/1/ack", data={"csrf": csrf, "reason": "x"})
        assert again.status_code == 409 and "only a firing alert" in again.text

        bad = await operator.post(
            "/ui/silences", data={"csrf": csrf, "slo": "", "hours": "0", "reason": ""}
        )
        assert bad.status_code == 422
        assert "hours" in bad.text and "name an SLO" in bad.text
        made = await operator.post(
            "/ui/silences",
            data={
                "csrf": csrf,
                "slo": "task_success",
                "severity": "page",
                "hours": "2",
                "reason": "deploy",
            },
        )
        assert made.status_code == 303, made.text
        page = await operator.get("/ui/alerts")
        assert "silenced by #1" in page.text and "slo=task_success" in page.text
        expired = await operator.post("/ui/silences/1/expire", data={"csrf": csrf})
        assert expired.status_code == 303
        assert "No silence." in (await operator.get("/ui/alerts")).text

        resolved = await operator.post(
            "/ui/alerts/1/resolve", data={"csrf": csrf, "reason": "fixed"}
        )
        assert resolved.status_code == 303
        assert "resolved by otto" in (await operator.get("/ui/alerts")).text
