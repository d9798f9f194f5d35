"""CAWS v10 working specs, detected and mapped to v11 as CAWS's own migration does.

Agrees with the kernel's `spec/migrate-v10.ts`: the same version detection, the same
renames (`status` → `lifecycle_state`, `acceptance_criteria` → `acceptance`, `created` →
`created_at`, `non_functional.a11y/perf`), the same coercions (risk tier "T2" → 2, a
bare `created_at` date → midnight UTC), `mode` from `type` when `mode` is not a v11
mode, the same list of v10 fields with no v11 home, and the same refusals (no id, no
title, no `blast_radius.modules`, no `scope.in`, an unresolvable tier or mode, a
lifecycle value outside v11's). Every step is a warning with the kernel's rule id; every
refusal a problem with it. Pure: data in, data out.

One difference: CAWS lets an operator supply a per-spec lifecycle mapping (for v10
states such as `in_progress`); a task has no operator at hand, so those are refused with
CAWS's rule and a message saying which values are accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from council.caws.rules import MigrateRules
from council.problems import GovernanceWarning, Problem

SpecVersion = Literal["v10", "v11", "unknown"]

SAFE_RENAMES: tuple[tuple[str, str], ...] = (
    ("status", "lifecycle_state"),
    ("acceptance_criteria", "acceptance"),
    ("created", "created_at"),
)
NF_SUBKEY_RENAMES: tuple[tuple[str, str], ...] = (
    ("a11y", "accessibility"),
    ("perf", "performance"),
)
TIER_COERCIONS: dict[str, int] = {"T1": 1, "1": 1, "T2": 2, "2": 2, "T3": 3, "3": 3}
V11_MODES = frozenset({"feature", "refactor", "fix", "doc", "chore"})
V11_LIFECYCLE_STATES = frozenset({"draft", "active", "closed", "archived"})
# v10 top-level fields with no v11 home (the kernel's list, from real v10 corpora).
REPORT_ONLY_FIELDS = frozenset(
    {
        "change_budget",
        "bounded_claim",
        "description",
        "type",
        "feature_id",
        "success_criteria",
        "human_override",
        "reasoning_engine",
        "tools",
        "target",
        "migrations",
        "threats",
        "dependencies",
        "related_specs",
        "related_docs",
        "kind",
        "test_strategy",
        "closure_path",
        "determinism",
        "fail_closed",
        "byte_identity",
        "acceptance_criteria_summary",
        "authority_boundary",
    }
)
_BARE_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def detect_spec_version(data: Any) -> SpecVersion:
    """v10 on any v10 marker (`status`, `acceptance_criteria`; `type` without any v11
    marker), else v11 on a v11 marker (`lifecycle_state`, `acceptance`, `mode`)."""
    if not isinstance(data, dict):
        return "unknown"
    if "status" in data or "acceptance_criteria" in data:
        return "v10"
    v11_marker = any(key in data for key in ("lifecycle_state", "acceptance", "mode"))
    if "type" in data and not v11_marker:
        return "v10"
    return "v11" if v11_marker else "unknown"


@dataclass
class Migration:
    """What migrating one v10 spec gave: the v11 value, or why CAWS refuses it."""

    value: dict[str, Any]
    warnings: list[GovernanceWarning] = field(default_factory=list)
    refusals: list[Problem] = field(default_factory=list)
    # v10 values with no place in the v11 value, kept verbatim (as CAWS's report keeps them).
    report_only: dict[str, Any] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return bool(self.refusals)


def migrate_v10(data: dict[str, Any], *, file: str | None = None) -> Migration:
    """Map a v10 spec to v11. Refusals are collected all at once, as CAWS does."""
    result = Migration(value=dict(data))
    out = result.value

    def warn(rule: str, message: str, path: str = "") -> None:
        result.warnings.append(GovernanceWarning(rule=rule, message=message, path=path, file=file))

    def refuse(rule: str, path: str, message: str) -> None:
        result.refusals.append(Problem(path=path, message=message, rule=rule))

    spec_id = data.get("id")
    if not isinstance(spec_id, str) or not spec_id:
        refuse(MigrateRules.MISSING_ID, "id", "a spec needs an id")
    title = data.get("title")
    if not isinstance(title, str) or not title:
        refuse(MigrateRules.MISSING_TITLE, "title", "a spec needs a non-empty title")
    _check_blast_radius(data, refuse)
    _check_scope_in(data, refuse)

    for old, new in SAFE_RENAMES:
        if old not in out:
            continue
        if new in out and not _same_scalar(out[new], out[old]):
            result.report_only[f"{old}_dropped_because_{new}_present"] = out.pop(old)
            warn(
                MigrateRules.SAFE_RENAME,
                f"both v10 {old!r} and v11 {new!r} are written: {new!r} is used, {old!r} "
                "is kept aside unused",
                old,
            )
        else:
            out[new] = out.pop(old)
            warn(MigrateRules.SAFE_RENAME, f"v10 field {old!r} read as v11 {new!r}", old)

    created = out.get("created_at")
    if isinstance(created, str) and (coerced := _bare_date_to_datetime(created)):
        out["created_at"] = coerced
        warn(
            MigrateRules.CREATED_AT_COERCED,
            f"bare date {created!r} read as {coerced!r} (v11 wants a date-time)",
            "created_at",
        )

    _rename_non_functional(out, result, warn)

    tier = out.get("risk_tier")
    if tier in (1, 2, 3) and not isinstance(tier, bool):
        pass
    elif isinstance(tier, str) and tier in TIER_COERCIONS:
        out["risk_tier"] = TIER_COERCIONS[tier]
        warn(
            MigrateRules.RISK_TIER_COERCED,
            f"risk_tier {tier!r} read as {TIER_COERCIONS[tier]}",
            "risk_tier",
        )
    else:
        refuse(
            MigrateRules.RISK_TIER_UNRESOLVABLE,
            "risk_tier",
            f"{tier!r} is not a risk tier: write 1, 2 or 3 ('T1'..'T3' are read too)",
        )

    _resolve_mode(out, refuse, warn)
    if "type" in out:
        result.report_only["type"] = out.pop("type")

    state = out.get("lifecycle_state")
    if state is not None and not (isinstance(state, str) and state in V11_LIFECYCLE_STATES):
        refuse(
            MigrateRules.LIFECYCLE_UNMAPPED,
            "lifecycle_state",
            f"{state!r} has no v11 lifecycle state; write status (or lifecycle_state) as "
            "one of draft, active, closed, archived",
        )

    for key in data:
        if key in REPORT_ONLY_FIELDS and key not in result.report_only:
            result.report_only[key] = data[key]
            out.pop(key, None)
            warn(
                MigrateRules.UNHANDLED_FIELD_PRESERVED,
                f"v10 field {key!r} has no v11 equivalent; kept aside, unused",
                key,
            )
    return result


def _same_scalar(a: Any, b: Any) -> bool:
    # CAWS compares with !==: equal strings and numbers are the same value, while two
    # lists or mappings are always different objects (so always a mixed-shape conflict).
    scalar = (str, int, float, bool, type(None))
    return isinstance(a, scalar) and isinstance(b, scalar) and a == b


def _bare_date_to_datetime(value: str) -> str | None:
    match = _BARE_DATE.match(value)
    if match is None:
        return None
    try:
        date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None  # 2026-02-30: left for the schema to refuse
    return f"{value}T00:00:00.000Z"


def _check_blast_radius(data: dict[str, Any], refuse: Any) -> None:
    hint = (
        "; list the modules the change may affect under blast_radius.modules (CAWS does not "
        "derive them from scope.in)"
    )
    radius = data.get("blast_radius")
    if not isinstance(radius, dict):
        refuse(MigrateRules.BLAST_RADIUS_MODULES_MISSING, "blast_radius", "is missing" + hint)
        return
    modules = radius.get("modules")
    if not isinstance(modules, list):
        refuse(
            MigrateRules.BLAST_RADIUS_MODULES_MISSING,
            "blast_radius.modules",
            "is missing or not a list" + hint,
        )
    elif not modules:
        refuse(MigrateRules.BLAST_RADIUS_MODULES_EMPTY, "blast_radius.modules", "is empty" + hint)


def _check_scope_in(data: dict[str, Any], refuse: Any) -> None:
    scope = data.get("scope")
    entries = scope.get("in") if isinstance(scope, dict) else None
    if not isinstance(entries, list) or not entries:
        path = "scope.in" if isinstance(scope, dict) else "scope"
        refuse(
            MigrateRules.SCOPE_IN_MISSING,
            path,
            "is missing or empty: list the paths (or globs) the change may touch under scope.in",
        )


def _rename_non_functional(out: dict[str, Any], result: Migration, warn: Any) -> None:
    original = out.get("non_functional")
    if not isinstance(original, dict):
        return
    nf = dict(original)
    for old, new in NF_SUBKEY_RENAMES:
        if old not in nf:
            continue
        if new in nf and not _same_scalar(nf[new], nf[old]):
            result.report_only[f"non_functional.{old}_dropped_because_{new}_present"] = nf.pop(old)
            message = f"both non_functional.{old} and .{new} are written: {new} is used"
        else:
            nf[new] = nf.pop(old)
            message = f"non_functional.{old} read as non_functional.{new}"
        warn(MigrateRules.NF_SUBKEY_RENAME, message, f"non_functional.{old}")
    out["non_functional"] = nf


def _resolve_mode(out: dict[str, Any], refuse: Any, warn: Any) -> None:
    mode, kind = out.get("mode"), out.get("type")
    kind_is_mode = isinstance(kind, str) and kind in V11_MODES
    if isinstance(mode, str) and mode in V11_MODES:
        if kind_is_mode and kind != mode:
            warn(
                MigrateRules.MODE_TYPE_DISAGREEMENT,
                f"mode {mode!r} and type {kind!r} disagree; mode is used",
                "mode",
            )
        return
    if kind_is_mode:
        out["mode"] = kind
        written = "no mode" if mode is None else f"mode {mode!r} is not a v11 mode"
        warn(MigrateRules.MODE_FROM_TYPE, f"{written}; type {kind!r} is used as the mode", "mode")
        return
    refuse(
        MigrateRules.MODE_UNRESOLVABLE,
        "mode",
        f"neither mode ({mode!r}) nor type ({kind!r}) is one of feature, refactor, fix, doc, chore",
    )
