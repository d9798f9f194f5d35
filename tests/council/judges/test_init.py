"""run_all: every judge, in council.models.JUDGES order, as a pure function."""

from __future__ import annotations

from council.judges import run_all
from council.models import JUDGES
from tests.council.factories import changed, make_ctx, plan_evidence, result_evidence


def test_run_all_in_judges_order_for_both_stages() -> None:
    for evidence in (plan_evidence(), result_evidence()):
        judgments = run_all(make_ctx(evidence=evidence))
        assert tuple(j.judge for j in judgments) == JUDGES
        assert all(j.verdict == "pass" for j in judgments)


def test_run_all_is_deterministic() -> None:
    evidence = result_evidence(changed_files=[changed("lib/x.py"), changed("pyproject.toml")])
    ctx = make_ctx(evidence=evidence)
    first = run_all(ctx)
    assert first == run_all(ctx)
    assert first[0].verdict == "fail"  # outside scope
    assert first[3].verdict == "uncertain"  # manifest changed
