"""From four judgments to one decision: approve, reject, refine, or escalate to a human.

1. Veto: any critical violation in any judgment rejects.
   Block: a blocking gate that failed, or an agent that failed or timed out (high
   violations of the BLOCKING_RULES), keeps the change from being approved whatever the
   score: refine when possible, else reject. A weighted majority must not wave through
   failing tests.
2. Tier 1 needs all four judges to pass; otherwise refine (after a run, with iterations
   left) or reject.
3. Tiers 2 and 3 use a weighted score (pass 1, uncertain 0.5, fail 0; the policy's
   weights, normalised over all four judges, a missing judgment counting as fail):
   - at or above the tier's threshold: approve;
   - a close call — below the threshold by at most the policy's margin, with some judge
     uncertain: escalate in strict mode; otherwise refine when possible (after a run,
     with iterations left), else reject. At the plan stage nothing has run yet, so a
     close call is approved in auto/dry_run (the result review still follows);
   - further below: refine when possible, else reject.
"""

from __future__ import annotations

from collections.abc import Sequence

from council.models import JUDGES, Decision, Judgment, Outcome, Stage, Verdict
from council.policy import Policy

# Evidence that the change does not work. Severity "high" means the policy blocks on it
# (a gate in "warn" mode reports medium and does not block).
BLOCKING_RULES = frozenset({"gate_failed", "gate_missing", "agent_failed", "agent_timed_out"})

VERDICT_VALUE: dict[Verdict, float] = {"pass": 1.0, "uncertain": 0.5, "fail": 0.0}
# Scores are sums of tenths; compare with a tolerance so 0.4 + 0.2 meets 0.6.
_EPS = 1e-9


def weighted_score(judgments: Sequence[Judgment], policy: Policy) -> float:
    total = policy.total_weight()
    by_judge = {j.judge: j for j in judgments}
    got = sum(
        policy.weight(name) * VERDICT_VALUE[by_judge[name].verdict]
        for name in JUDGES
        if name in by_judge
    )
    return round(got / total, 6) if total > 0 else 0.0


def decide(
    judgments: Sequence[Judgment],
    *,
    risk_tier: int,
    policy: Policy,
    stage: Stage,
    execution_mode: str,
    can_refine: bool,
) -> Decision:
    score = weighted_score(judgments, policy)
    threshold = policy.threshold(risk_tier)
    # Refinement loops back to the agent; before anything has run there is nothing to refine.
    refine_ok = stage == "result" and can_refine
    vetoes = [v for j in judgments for v in j.violations if v.severity == "critical"]
    if vetoes:
        named = "; ".join(f"{v.rule}: {v.detail}" for v in vetoes[:5])
        outcome: Outcome = "reject"
        why = f"Vetoed by {len(vetoes)} critical violation(s): {named}."
    elif blockers := [
        v
        for j in judgments
        for v in j.violations
        if v.severity == "high" and v.rule in BLOCKING_RULES
    ]:
        named = "; ".join(f"{v.rule}: {v.detail}" for v in blockers[:5])
        why = f"Blocked by {len(blockers)} failed check(s): {named}"
        if refine_ok:
            outcome, why = "refine", f"{why}; asking the agent to refine."
        else:
            tail = "nothing has run yet to refine" if stage == "plan" else "no iterations left"
            outcome, why = "reject", f"{why}; {tail}."
    elif risk_tier == 1:
        outcome, why = _all_pass(judgments, refine_ok)
    else:
        outcome, why = _weighted(
            judgments,
            score=score,
            threshold=threshold,
            margin=policy.agency.close_call_margin,
            risk_tier=risk_tier,
            stage=stage,
            execution_mode=execution_mode,
            refine_ok=refine_ok,
        )
    summary = [f"{j.judge}: {j.verdict} - {j.rationale}" for j in judgments]
    return Decision(
        outcome=outcome,
        score=score,
        threshold=threshold,
        reasons=[why, *summary],
        vetoes=vetoes,
    )


def _all_pass(judgments: Sequence[Judgment], refine_ok: bool) -> tuple[Outcome, str]:
    by_judge = {j.judge: j for j in judgments}
    gaps = [
        f"{name} ({by_judge[name].verdict if name in by_judge else 'no judgment'})"
        for name in JUDGES
        if name not in by_judge or by_judge[name].verdict != "pass"
    ]
    if not gaps:
        return "approve", "Tier 1: all four judges pass."
    why = f"Tier 1 needs all four judges to pass; not passing: {', '.join(gaps)}"
    if refine_ok:
        return "refine", f"{why}; asking the agent to refine."
    return "reject", f"{why}."


def _weighted(
    judgments: Sequence[Judgment],
    *,
    score: float,
    threshold: float,
    margin: float,
    risk_tier: int,
    stage: Stage,
    execution_mode: str,
    refine_ok: bool,
) -> tuple[Outcome, str]:
    where = f"Weighted score {score:.2f} against the tier {risk_tier} threshold {threshold:.2f}"
    if score + _EPS >= threshold:
        return "approve", f"{where}: meets it."
    uncertain = any(j.verdict == "uncertain" for j in judgments)
    if uncertain and threshold - score <= margin + _EPS:
        close = f"{where}: a close call (within {margin:.2f}) with an uncertain judge"
        if execution_mode == "strict":
            return "escalate", f"{close}; escalated to a human (strict mode)."
        if stage == "plan":
            return "approve", f"{close}; the plan proceeds and the result will be reviewed."
        if refine_ok:
            return "refine", f"{close}; asking the agent to refine."
        return "reject", f"{close}; no iterations left to refine."
    if refine_ok:
        return "refine", f"{where}: below it; asking the agent to refine."
    tail = "nothing has run yet to refine" if stage == "plan" else "no iterations left to refine"
    return "reject", f"{where}: below it; {tail}."
