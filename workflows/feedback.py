"""What the agent is told before its next iteration: the judges' findings and human guidance.

Pure and deterministic (used inside the workflow).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.task import Round

MAX_FEEDBACK_CHARS = 20_000


def feedback_for_next_iteration(rounds: list[Round], guidance: list[str]) -> str:
    parts: list[str] = []
    last_result = next((r for r in reversed(rounds) if r.stage == "result"), None)
    if last_result is not None:
        parts.append(
            f"The council asked for changes after iteration {last_result.iteration} "
            f"({last_result.decision.outcome}):"
        )
        for judgment in last_result.judgments:
            for v in judgment.violations:
                parts.append(f"- [{judgment.judge}/{v.severity}] {v.rule}: {v.detail}")
        parts.extend(f"- {reason}" for reason in last_result.decision.reasons)
    if guidance:
        parts.append("Guidance from a human operator:")
        parts.extend(f"- {text}" for text in guidance)
    return "\n".join(parts)[:MAX_FEEDBACK_CHARS]
