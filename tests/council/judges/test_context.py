"""JudgeContext: which waivers apply and the budget they give."""

from __future__ import annotations

from council.policy import Budget
from tests.council.factories import NOW, make_ctx, make_spec, make_waiver


def test_only_named_waivers_apply() -> None:
    named, other = make_waiver(), make_waiver(id="WV-0200")
    ctx = make_ctx(
        spec=make_spec(waiver_ids=["WV-0100"]), waivers={"WV-0100": named, "WV-0200": other}
    )
    assert [w.id for w in ctx.named_waivers()] == ["WV-0100"]
    assert [w.id for w in ctx.usable_waivers()] == ["WV-0100"]
    assert ctx.effective_budget() == Budget(max_files=150, max_loc=15_000)
    assert ctx.base_budget() == Budget(max_files=100, max_loc=10_000)


def test_unusable_named_waiver_gives_no_budget() -> None:
    ctx = make_ctx(
        spec=make_spec(waiver_ids=["WV-0100"]),
        waivers={"WV-0100": make_waiver(expires_at="2026-01-01T00:00:00Z")},
    )
    assert ctx.usable_waivers() == []
    assert ctx.effective_budget() == ctx.base_budget()
    assert any("expired" in p for p in ctx.waiver_problems(ctx.named_waivers()[0]))


def test_stage_and_now_come_from_the_caller() -> None:
    ctx = make_ctx()
    assert ctx.stage == "result"
    assert ctx.now == NOW
