from __future__ import annotations

from typing import Any

from rich.console import Console

from agency.cli.render import audit_table, task_table, task_view


def rendered(renderable: Any) -> str:
    console = Console(width=160, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def task(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "7c1e",
        "caws_id": "FEAT-0042",
        "title": "Add retry [with backoff]",
        "risk_tier": 2,
        "mode": "feature",
        "execution_mode": "strict",
        "phase": "awaiting_approval",
        "iteration": 1,
        "max_iterations": 3,
        "paused": False,
        "pending_action": "approve",
        "verdicts": [
            {
                "judge": "constitutional",
                "verdict": "fail",
                "confidence": 0.9,
                "violations": [
                    {"rule": "path_outside_scope", "severity": "critical", "detail": "docs/ops.md"}
                ],
            },
            {"judge": "technical", "verdict": "pass", "confidence": 1.0, "violations": []},
        ],
        "decision": {"outcome": "reject", "score": 0.2, "threshold": 0.6, "reasons": []},
        "applied_commit": None,
        "error": None,
        "changed_files": 2,
        "lines_added": 10,
        "lines_removed": 1,
    }
    return {**base, **overrides}


def test_task_view_shows_phase_pending_action_and_each_judge() -> None:
    text = rendered(task_view(task()))
    assert "awaiting_approval" in text
    assert "approve" in text
    assert "constitutional" in text and "technical" in text
    assert "path_outside_scope [critical]: docs/ops.md" in text
    assert "0.20 / threshold 0.60" in text
    # Brackets from the API are shown, not swallowed as rich markup.
    assert "Add retry [with backoff]" in text


def test_task_view_shows_applied_commit_and_error() -> None:
    text = rendered(task_view(task(phase="completed", pending_action=None, applied_commit="ab12")))
    assert "ab12" in text and "pending" not in text
    assert "boom [x]" in rendered(task_view(task(phase="failed", error="boom [x]")))


def test_task_table_has_a_row_per_task_with_judge_marks() -> None:
    text = rendered(task_table([task(), task(id="9d0f", phase="completed", verdicts=[])]))
    assert "7c1e" in text and "9d0f" in text
    assert "C✗ T✓" in text


def test_audit_table_shows_actor_and_action() -> None:
    entries = [
        {
            "seq": 1,
            "at": "2025-01-01T10:00:00Z",
            "actor": "cli:ada",
            "action": "approve",
            "phase": "awaiting_approval",
            "verdict": None,
            "approval_status": "approved",
            "detail": {"reason": "looks good"},
        },
    ]
    text = rendered(audit_table(entries))
    assert "cli:ada" in text and "approve" in text and "reason=looks good" in text


def test_task_view_shows_the_models_assessment_of_a_judgment() -> None:
    judged = task(
        verdicts=[
            {
                "judge": "quality",
                "verdict": "pass",
                "confidence": 0.8,
                "violations": [],
                "rationale": "criteria covered",
                "assessment": "The tests cover A1. VERDICT: pass",
            }
        ]
    )
    text = rendered(task_view(judged))
    assert "model: The tests cover A1. VERDICT: pass" in text
    assert "criteria covered" in text
