"""The CAWS v11 spec's semantic rules (CAWS `spec/validate-semantics.ts`).

They run, as in CAWS, only on a spec whose shape is valid, and see only the spec's own
bytes: tier-gated requirements, lifecycle consistency, successor declarations, a
`scope.out` that shadows what `scope.in` admits, and evidence naming real criteria.
"""

from __future__ import annotations

from typing import Any

from council.caws.rules import SpecRules
from council.problems import Problem


def spec_semantic_problems(spec: dict[str, Any]) -> list[Problem]:
    """Every semantic rule the (shape-valid) spec breaks, with CAWS's rule ids."""
    return [
        *_tier_problems(spec),
        *_lifecycle_problems(spec),
        *_successor_problems(spec),
        *_overbroad_out_problems(spec),
        *_evidence_problems(spec),
    ]


def _tier_problems(spec: dict[str, Any]) -> list[Problem]:
    tier = spec["risk_tier"]
    out: list[Problem] = []
    if spec["mode"] != "chore" and tier in (1, 2) and not spec["contracts"]:
        rule = SpecRules.TIER1_CONTRACTS if tier == 1 else SpecRules.TIER2_CONTRACTS
        message = f"tier {tier} specs need at least one contract (or risk_tier 3, or mode chore)"
        out.append(Problem(path="contracts", message=message, rule=rule))
    if tier == 1:
        required = (
            ("observability", spec.get("observability"), SpecRules.TIER1_OBSERVABILITY),
            ("rollback", spec.get("rollback"), SpecRules.TIER1_ROLLBACK),
            (
                "non_functional.security",
                spec["non_functional"].get("security"),
                SpecRules.TIER1_SECURITY,
            ),
        )
        for path, value, rule in required:
            if not value:
                message = "tier 1 specs need at least one item here"
                out.append(Problem(path=path, message=message, rule=rule))
    if "experimental_mode" in spec and tier != 3:
        message = "experimental_mode is only allowed on tier 3 specs"
        out.append(
            Problem(path="experimental_mode", message=message, rule=SpecRules.EXPERIMENTAL_TIER)
        )
    return out


def _lifecycle_problems(spec: dict[str, Any]) -> list[Problem]:
    state = spec["lifecycle_state"]
    terminal = state in ("closed", "archived")
    out: list[Problem] = []
    if "resolution" in spec and not terminal:
        message = f"resolution is only valid once the spec is closed or archived (it is {state})"
        out.append(
            Problem(path="resolution", message=message, rule=SpecRules.RESOLUTION_REQUIRES_CLOSURE)
        )
    if terminal and "resolution" not in spec:
        message = f"a {state} spec must record its resolution (completed, superseded, abandoned)"
        out.append(
            Problem(path="resolution", message=message, rule=SpecRules.CLOSED_NEEDS_RESOLUTION)
        )
    if spec.get("supersedes") == spec["id"]:
        out.append(
            Problem(
                path="supersedes",
                message="a spec cannot supersede itself",
                rule=SpecRules.SUPERSEDES_SELF,
            )
        )
    return out


def _successor_problems(spec: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    first: dict[str, int] = {}
    for i, successor in enumerate(spec.get("successors") or []):
        base = f"successors[{i}]"
        target = successor["target_spec_id"]
        rationale = successor.get("rationale")
        absorbed_by = successor.get("absorbed_by")
        disposition = successor["disposition"]

        def add(path: str, message: str, rule: str, base: str = base) -> None:
            out.append(Problem(path=f"{base}.{path}", message=message, rule=rule))

        if disposition == "declined" and (rationale is None or not rationale.strip()):
            add(
                "rationale",
                f"declining successor {target} needs a rationale saying why",
                SpecRules.SUCCESSOR_DECLINED_RATIONALE,
            )
        if disposition == "absorbed" and absorbed_by is None:
            add(
                "absorbed_by",
                f"an absorbed successor ({target}) must name the spec that absorbed it",
                SpecRules.SUCCESSOR_ABSORBED_BY,
            )
        if rationale is not None and not rationale.strip():
            add("rationale", "is only whitespace", SpecRules.SUCCESSOR_RATIONALE_EMPTY)
        if target == spec["id"]:
            add("target_spec_id", "a spec cannot be its own successor", SpecRules.SUCCESSOR_SELF)
        if absorbed_by is not None and absorbed_by == spec["id"]:
            add(
                "absorbed_by",
                "a spec cannot absorb its own successor obligation",
                SpecRules.SUCCESSOR_ABSORBED_BY_SELF,
            )
        if absorbed_by is not None and absorbed_by == target:
            add(
                "absorbed_by",
                f"{target} absorbed by itself states nothing; use disposition required",
                SpecRules.SUCCESSOR_ABSORBED_BY_TARGET,
            )
        if target in first:
            add(
                "target_spec_id",
                f"{target} is declared twice (entries {first[target]} and {i}); merge them",
                SpecRules.SUCCESSOR_DUPLICATE,
            )
        else:
            first[target] = i
    return out


def _overbroad_out_problems(spec: dict[str, Any]) -> list[Problem]:
    """A scope.out entry that is a directory above a scope.in/support entry refuses what
    that entry admits. Exact equality is a different defect, not this rule (as CAWS)."""
    scope = spec["scope"]
    out: list[Problem] = []
    for excluded in scope.get("out") or []:
        prefix = _strip_slash(excluded)
        for key in ("in", "support"):
            for admitted in scope.get(key) or []:
                candidate = _strip_slash(admitted)
                if prefix and candidate.startswith(prefix + "/"):
                    message = (
                        f"scope.out entry {excluded!r} shadows scope.{key} entry {admitted!r}: "
                        "the change would be refused the path it is admitted; narrow or "
                        "remove the scope.out entry"
                    )
                    out.append(
                        Problem(
                            path="scope.out", message=message, rule=SpecRules.SCOPE_OVERBROAD_OUT
                        )
                    )
    return out


def _evidence_problems(spec: dict[str, Any]) -> list[Problem]:
    declared = [a["id"] for a in spec["acceptance"]]
    out: list[Problem] = []
    for i, entry in enumerate(spec.get("evidence") or []):
        if entry["criterion_id"] not in declared:
            message = (
                f"criterion_id {entry['criterion_id']!r} names no acceptance criterion "
                f"(declared: {', '.join(declared)})"
            )
            out.append(
                Problem(
                    path=f"evidence[{i}].criterion_id",
                    message=message,
                    rule=SpecRules.EVIDENCE_CRITERION_UNKNOWN,
                )
            )
        reason = entry.get("waiver_reason")
        if entry["status"] == "waived" and (not isinstance(reason, str) or not reason.strip()):
            message = "a waived criterion needs a waiver_reason saying why"
            out.append(
                Problem(
                    path=f"evidence[{i}].waiver_reason",
                    message=message,
                    rule=SpecRules.EVIDENCE_WAIVER_REASON,
                )
            )
    return out


def _strip_slash(path: str) -> str:
    return path[:-1] if len(path) > 1 and path.endswith("/") else path
