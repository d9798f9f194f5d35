"""Constitutional judge: CAWS compliance.

Rules: changed paths inside scope.in (or CAWS v11 scope.support) and outside scope.out,
the change budget (raised by usable waivers), the validity of each waiver the spec
names, forbidden paths, and spec completeness. The CAWS policy's gates `scope_boundary`,
`budget_limit` and `spec_completeness` set how the matching rules count: block (as
listed), warn (at most medium) or skip (not checked). Forbidden paths are never softened.

A usable waiver the spec names waives its gates as CAWS waivers do: a `budget_limit`
waiver with a `delta` raises the budget by it (v10), one without a delta (v11) waives
the budget; a `scope_boundary` waiver waives paths outside the scope. What is waived is
still reported, as a low-severity note naming the waiver.
"""

from __future__ import annotations

from council.judges.common import listing, make_judgment, violation
from council.judges.context import JudgeContext
from council.models import Judgment, Severity, Violation
from council.paths import entry_targets_forbidden, forbidden_hits, in_scope, normalize
from council.waivers import BUDGET_GATE, Waiver

JUDGE = "constitutional"
SCOPE_GATE = "scope_boundary"
_WARN_CAP: dict[Severity, Severity] = {
    "critical": "medium",
    "high": "medium",
    "medium": "medium",
    "low": "low",
}


def judge(ctx: JudgeContext) -> Judgment:
    violations = [*_spec_completeness(ctx), *_waivers(ctx)]
    if ctx.stage == "plan":
        violations += _scope_overlaps_forbidden(ctx)
        clean = (
            "The spec is complete, any waivers it names are usable, "
            "and its scope avoids forbidden paths."
        )
    else:
        paths = sorted({normalize(f.path) for f in ctx.evidence.changed_files})
        violations += _forbidden(ctx, paths)
        violations += _scope(ctx, paths)
        violations += _budget(ctx)
        clean = "The change stays inside scope, within budget, and away from forbidden paths."
    return make_judgment(JUDGE, violations, clean)


def _severity(ctx: JudgeContext, gate: str, severity: Severity) -> Severity | None:
    """The policy's mode for the CAWS gate behind a rule: block keeps, warn caps, skip drops."""
    mode = ctx.policy.gate_mode(gate)
    if mode == "skip":
        return None
    return _WARN_CAP[severity] if mode == "warn" else severity


def _spec_completeness(ctx: JudgeContext) -> list[Violation]:
    spec = ctx.spec
    found: list[tuple[str, Severity, str]] = []
    if not spec.scope.in_:
        found.append(("spec_scope_empty", "high", "scope.in lists no path the change may touch"))
    if not spec.acceptance:
        found.append(("spec_acceptance_missing", "high", "the spec has no acceptance criteria"))
    if not spec.invariants:
        found.append(("spec_invariants_missing", "low", "the spec states no invariants"))
    out: list[Violation] = []
    for rule, severity, detail in found:
        sev = _severity(ctx, "spec_completeness", severity)
        if sev is not None:
            out.append(violation(rule, sev, detail))
    return out


def _waivers(ctx: JudgeContext) -> list[Violation]:
    out: list[Violation] = []
    for waiver_id in ctx.spec.waiver_ids:
        waiver = ctx.waivers.get(waiver_id)
        if waiver is None:
            detail = f"waiver {waiver_id} is named by the spec but is not known"
            out.append(violation("waiver_unknown", "high", detail))
            continue
        problems = ctx.waiver_problems(waiver)
        if problems:
            detail = f"waiver {waiver_id} cannot be used: {'; '.join(problems)}"
            out.append(violation("waiver_unusable", "high", detail))
    return out


def _scope_overlaps_forbidden(ctx: JudgeContext) -> list[Violation]:
    out: list[Violation] = []
    patterns = ctx.policy.agency.forbidden_paths
    for entry in ctx.spec.scope.admitted():
        hits = [p for p in patterns if entry_targets_forbidden(entry, p)]
        if hits:
            detail = f"scope.in entry {entry!r} reaches forbidden paths ({', '.join(hits)})"
            out.append(violation("scope_overlaps_forbidden", "high", detail))
    return out


def _forbidden(ctx: JudgeContext, paths: list[str]) -> list[Violation]:
    hits = {p: forbidden_hits(p, ctx.policy.agency.forbidden_paths) for p in paths}
    touched = [f"{p} ({', '.join(h)})" for p, h in hits.items() if h]
    if not touched:
        return []
    detail = f"the change touches forbidden paths: {listing(touched)}"
    return [violation("forbidden_path", "critical", detail)]


def _scope(ctx: JudgeContext, paths: list[str]) -> list[Violation]:
    zones = ctx.policy.non_governed_zones
    governed = [p for p in paths if not (zones and in_scope(p, zones))]
    scope = ctx.spec.scope
    outside = [p for p in governed if not in_scope(p, scope.admitted())]
    excluded = [p for p in governed if scope.out and in_scope(p, scope.out)]
    out: list[Violation] = []
    severity = _severity(ctx, SCOPE_GATE, "critical")
    if severity is None:
        return out
    waivers = _gate_waivers(ctx, SCOPE_GATE)
    if waivers and (outside or excluded):
        paths = sorted({*outside, *excluded})
        detail = (
            f"{len(paths)} changed path(s) outside the spec's scope: {listing(paths)}; "
            f"waived by {', '.join(w.id for w in waivers)}"
        )
        return [violation("scope_waived", "low", detail)]
    if outside:
        detail = f"{len(outside)} changed path(s) outside scope.in: {listing(outside)}"
        out.append(violation("path_outside_scope", severity, detail))
    if excluded:
        detail = f"{len(excluded)} changed path(s) inside scope.out: {listing(excluded)}"
        out.append(violation("path_in_scope_out", severity, detail))
    return out


def changed_size(ctx: JudgeContext) -> tuple[int, int]:
    """(files, lines) of the change; lines are added + removed."""
    ev = ctx.evidence
    files = len({normalize(f.path) for f in ev.changed_files})
    lines = ev.lines_added + ev.lines_removed
    if lines == 0:
        lines = sum(f.added + f.removed for f in ev.changed_files)
    return files, lines


def _budget(ctx: JudgeContext) -> list[Violation]:
    severity = _severity(ctx, "budget_limit", "critical")
    if severity is None:
        return []
    files, lines = changed_size(ctx)
    base = ctx.base_budget()
    effective = ctx.effective_budget()
    size = f"{files} files and {lines} changed lines"
    tier = ctx.spec.risk_tier
    over = files > effective.max_files or lines > effective.max_loc
    waivers = [w for w in _gate_waivers(ctx, BUDGET_GATE) if not w.raises_budget()]
    if over and waivers:
        detail = (
            f"{size} exceed the tier {tier} budget of {effective.max_files} files and "
            f"{effective.max_loc} lines; waived by {', '.join(w.id for w in waivers)}"
        )
        return [violation("budget_waived", "low", detail)]
    if over:
        raised = "" if effective == base else " including usable waivers"
        detail = (
            f"{size} exceed the tier {tier} budget{raised} of "
            f"{effective.max_files} files and {effective.max_loc} lines"
        )
        return [violation("budget_exceeded", severity, detail)]
    if files > base.max_files or lines > base.max_loc:
        ids = ", ".join(w.id for w in ctx.usable_waivers() if BUDGET_GATE in w.gates)
        detail = (
            f"{size} exceed the tier {tier} budget of {base.max_files} files and "
            f"{base.max_loc} lines; covered by waiver(s) {ids}"
        )
        return [violation("budget_waived", "low", detail)]
    return []


def _gate_waivers(ctx: JudgeContext, gate: str) -> list[Waiver]:
    """Usable waivers the spec names that waive `gate` outright."""
    return [w for w in ctx.usable_waivers() if gate in w.gates]
