"""Technical judge: did it run, did the gates pass, and is the added code safe to keep?

Rules: the agent's exit code and timeout, each gate's result (severity from the policy's
gate mode), secrets or credentials in added lines, new placeholder/stub markers in added
lines, and determinism hazards (unseeded randomness; wall-clock time in tests).
Only added lines are scanned: a change is not blamed for what it found.
"""

from __future__ import annotations

import re

from council.credentials import SOURCE_PATTERNS
from council.judges.common import listing, make_judgment, violation
from council.judges.context import JudgeContext
from council.markers import UNFINISHED_MARKERS
from council.models import Judgment, Severity, Violation
from council.paths import is_test_file, normalize

JUDGE = "technical"

# Detection patterns. Unfinished work is what `agency gate placeholders` fails a build on
# (council.markers): the judge and a repository's CI agree on what counts as a stub.
SECRET_PATTERNS = SOURCE_PATTERNS
RANDOM_CALL = re.compile(
    r"\b(?:random\.(?:random|randint|randrange|choice|choices|shuffle|uniform|sample|getrandbits)"
    r"|(?:np|numpy)\.random\.\w+|Math\.random)\s*\("
)
SEEDED = re.compile(r"seed|default_rng\(\s*\d|Random\(\s*\w")
WALL_CLOCK = re.compile(
    r"\b(?:time\.time|datetime\.(?:datetime\.)?(?:now|utcnow|today)|date\.today|Date\.now)\s*\("
    r"|\bnew Date\(\s*\)"
)


def judge(ctx: JudgeContext) -> Judgment:
    if ctx.stage == "plan":
        violations = _plan(ctx)
        clean = "An agent and quality gates are configured."
    else:
        violations = [*_agent(ctx), *_gates(ctx), *_scan(ctx)]
        clean = "The agent succeeded, every gate passed, and the added code has no red flags."
    return make_judgment(JUDGE, violations, clean)


def _plan(ctx: JudgeContext) -> list[Violation]:
    out: list[Violation] = []
    agent = ctx.spec.agent
    if not agent.argv and not agent.model:
        detail = "the spec names no agent to run (neither argv nor model)"
        out.append(violation("agent_missing", "high", detail))
    if not ctx.spec.gates:
        detail = "the spec declares no quality gates; nothing will check the result"
        out.append(violation("gates_missing", "medium", detail))
    return out


def _agent(ctx: JudgeContext) -> list[Violation]:
    ev = ctx.evidence
    timeout = ctx.spec.agent.timeout_s
    if ev.agent_timed_out:
        detail = f"the agent was stopped after its {timeout}s timeout"
        return [violation("agent_timed_out", "high", detail)]
    if ev.agent_exit_code is None:
        return [violation("agent_exit_unknown", "medium", "no agent exit code was reported")]
    if ev.agent_exit_code != 0:
        detail = f"the agent exited with code {ev.agent_exit_code}"
        return [violation("agent_failed", "high", detail)]
    return []


def _gate_severity(ctx: JudgeContext, name: str) -> Severity | None:
    mode = ctx.policy.gate_mode(name)
    return None if mode == "skip" else ("medium" if mode == "warn" else "high")


def _gates(ctx: JudgeContext) -> list[Violation]:
    out: list[Violation] = []
    reported = {g.name for g in ctx.evidence.gates}
    for gate in ctx.evidence.gates:
        severity = _gate_severity(ctx, gate.name)
        if gate.passed or severity is None:
            continue
        if gate.timed_out:
            why = "timed out"
        elif gate.exit_code is not None:
            why = f"exited with code {gate.exit_code}"
        else:
            why = "did not pass"
        out.append(violation("gate_failed", severity, f"gate {gate.name!r} {why}"))
    for spec_gate in ctx.spec.gates:
        severity = _gate_severity(ctx, spec_gate.name)
        if spec_gate.name not in reported and severity is not None:
            detail = f"gate {spec_gate.name!r} is declared in the spec but has no result"
            out.append(violation("gate_missing", severity, detail))
    if not ctx.spec.gates and not ctx.evidence.gates:
        detail = "no quality gate ran; nothing checked the result"
        out.append(violation("gates_missing", "medium", detail))
    return out


def _scan(ctx: JudgeContext) -> list[Violation]:
    out: list[Violation] = []
    for raw_path, lines in sorted(ctx.evidence.added_lines.items()):
        path = normalize(raw_path)
        out += _matches(path, lines, SECRET_PATTERNS, "secret_added", "critical")
        out += _matches(path, lines, UNFINISHED_MARKERS, "placeholder_added", "medium")
        out += _determinism(path, lines)
    return out


def _matches(
    path: str,
    lines: list[str],
    patterns: tuple[tuple[str, re.Pattern[str]], ...],
    rule: str,
    severity: Severity,
) -> list[Violation]:
    """One violation per (file, kind), naming the added-line numbers but never the text:
    a secret must not be copied into the verdict."""
    out: list[Violation] = []
    for what, pattern in patterns:
        where = [str(n) for n, line in enumerate(lines, start=1) if pattern.search(line)]
        if where:
            detail = f"{path} adds {what} (added line {listing(where)})"
            out.append(violation(rule, severity, detail))
    return out


def _determinism(path: str, lines: list[str]) -> list[Violation]:
    out: list[Violation] = []
    randoms = [str(n) for n, line in enumerate(lines, start=1) if RANDOM_CALL.search(line)]
    if randoms and not any(SEEDED.search(line) for line in lines):
        detail = f"{path} uses randomness without a seed (added line {listing(randoms)})"
        out.append(violation("unseeded_random", "low", detail))
    if is_test_file(path):
        clocks = [str(n) for n, line in enumerate(lines, start=1) if WALL_CLOCK.search(line)]
        if clocks:
            detail = f"test {path} reads the wall clock (added line {listing(clocks)})"
            out.append(violation("wall_clock_in_test", "low", detail))
    return out
