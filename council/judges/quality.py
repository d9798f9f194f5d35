"""Quality judge: is "done" shown, not claimed?

Rules: each acceptance criterion backed by evidence — best a passed gate whose `covers`
names it; weaker, any passed gate that does not narrow itself with `covers`; or an added
or changed test file that mentions the criterion id. A feature or fix adds or changes
tests. A coverage figure in a gate's output meets the policy's threshold.
"""

from __future__ import annotations

import re

from council.judges.common import listing, make_judgment, violation
from council.judges.context import JudgeContext
from council.models import GateResult, Judgment, Violation
from council.paths import is_test_file, normalize

JUDGE = "quality"
TESTED_MODES = frozenset({"feature", "fix"})
COVERAGE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # pytest-cov / coverage.py summary: "TOTAL    120     12    90%"
    re.compile(r"^TOTAL\b.*?(\d+(?:\.\d+)?)%\s*$", re.MULTILINE),
    # go test and many others: "coverage: 81.5% of statements"
    re.compile(r"\bcoverage:\s*(\d+(?:\.\d+)?)%", re.IGNORECASE),
)


def judge(ctx: JudgeContext) -> Judgment:
    violations: list[Violation] = []
    if not ctx.spec.acceptance:
        detail = "the spec has no acceptance criteria, so there is nothing to show done"
        violations.append(violation("acceptance_missing", "high", detail))
    if ctx.stage == "plan":
        violations += _planned_backing(ctx)
        clean = "Every acceptance criterion has a gate planned to back it."
    else:
        violations += _backing(ctx)
        violations += _tests_added(ctx)
        violations += _coverage(ctx)
        clean = "Every acceptance criterion is backed by evidence and the tests look sufficient."
    return make_judgment(JUDGE, violations, clean)


def _covers(ctx: JudgeContext, gate: GateResult) -> set[str]:
    """Criteria a gate vouches for: what its result says plus what the spec declared."""
    declared = next((g.covers for g in ctx.spec.gates if g.name == gate.name), [])
    return {*gate.covers, *declared}


def _planned_backing(ctx: JudgeContext) -> list[Violation]:
    generic = any(not g.covers for g in ctx.spec.gates)
    covered = {c for g in ctx.spec.gates for c in g.covers}
    return [
        violation(
            "acceptance_no_gate",
            "medium",
            f"acceptance criterion {crit.id} has no gate planned to back it",
        )
        for crit in ctx.spec.acceptance
        if not generic and crit.id not in covered
    ]


def _changed_tests(ctx: JudgeContext) -> list[str]:
    return [
        normalize(f.path)
        for f in ctx.evidence.changed_files
        if f.status != "deleted" and is_test_file(f.path)
    ]


def _backing(ctx: JudgeContext) -> list[Violation]:
    passed = [g for g in ctx.evidence.gates if g.passed]
    generic = any(not _covers(ctx, g) for g in passed)
    covered = {c for g in passed for c in _covers(ctx, g)}
    tests = set(_changed_tests(ctx))
    test_text = "\n".join(
        line
        for path, lines in ctx.evidence.added_lines.items()
        if normalize(path) in tests
        for line in lines
    )
    out: list[Violation] = []
    for crit in ctx.spec.acceptance:
        mentioned = re.search(rf"(?<![\w-]){re.escape(crit.id)}(?![\w-])", test_text)
        if crit.id in covered or generic or mentioned:
            continue
        detail = (
            f"acceptance criterion {crit.id} has no evidence: no passed gate covers it "
            "and no added test mentions it"
        )
        out.append(violation("acceptance_unbacked", "medium", detail))
    return out


def _tests_added(ctx: JudgeContext) -> list[Violation]:
    if ctx.spec.mode not in TESTED_MODES or _changed_tests(ctx):
        return []
    detail = f"a {ctx.spec.mode} changes no test file"
    return [violation("tests_missing", "medium", detail)]


def coverage_percent(output: str) -> float | None:
    """The last coverage figure a gate printed, or None when it printed none."""
    found: list[tuple[int, float]] = []
    for pattern in COVERAGE_PATTERNS:
        found += [(m.start(), float(m.group(1))) for m in pattern.finditer(output)]
    return max(found)[1] if found else None


def _coverage(ctx: JudgeContext) -> list[Violation]:
    threshold = ctx.policy.agency.coverage_threshold
    low: list[str] = []
    for gate in ctx.evidence.gates:
        percent = coverage_percent(gate.output_tail)
        if percent is not None and percent < threshold:
            low.append(f"{gate.name} reports {percent:g}%")
    if not low:
        return []
    detail = f"coverage below the policy's {threshold:g}%: {listing(low)}"
    return [violation("coverage_low", "low", detail)]
