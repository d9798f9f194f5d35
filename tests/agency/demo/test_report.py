"""The demo report shows each task's verified provenance (or what failed)."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from agency.demo.report import outcome_panel
from agency.demo.runner import Outcome
from agency.demo.scenarios import build_scenarios


def rendered(outcome: Outcome) -> str:
    console = Console(width=200, record=True)
    console.print(outcome_panel(outcome))
    return console.export_text()


def outcome(provenance: dict[str, object] | None) -> Outcome:
    scenario = build_scenarios(Path("/tmp/demo-repo"), python=sys.executable)[0]
    return Outcome(
        scenario=scenario,
        task_id="t-1",
        task={"phase": "completed", "verdicts": []},
        provenance=provenance,
    )


def test_verified_provenance_is_shown_with_its_key_and_commit() -> None:
    text = rendered(
        outcome({"verified": True, "kid": "KID123456789abc", "commit": "c0ffee1234567890"})
    )
    assert "provenance" in text and "verified" in text
    assert "KID123456789" in text and "c0ffee123456" in text


def test_failed_checks_are_named() -> None:
    checks = [
        {"name": "signature", "status": "pass"},
        {"name": "git", "status": "fail"},
        {"name": "history", "status": "fail"},
    ]
    text = rendered(outcome({"verified": False, "checks": checks}))
    assert "NOT verified: git, history" in text
    assert "not checked" in rendered(outcome(None))
