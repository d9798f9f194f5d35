"""The CAWS v11 working spec's shape (CAWS `schemas/spec.v1.json`), checked as CAWS does.

Written from the kernel's schema and `spec/validate-shape.ts`: the same required fields,
closed vocabularies and forbidden surfaces, and the same stable rule id for each
well-known violation (a removed v10 field, `mode: development`, a string risk tier, an
empty `scope.in`, a glob in `scope.out`, a malformed id); anything else is
`spec.schema.violation`. Messages say what to do, as the kernel's repair hints do.
"""

from __future__ import annotations

from typing import Any

from council.caws.rules import SpecRules
from council.caws.schema import SchemaError, validate
from council.problems import Problem, format_loc

SPEC_ID_PATTERN = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*-\d+[a-z]*$"
MODES = ("feature", "refactor", "fix", "doc", "chore")
LIFECYCLE_STATES = ("draft", "active", "closed", "archived")
RESOLUTIONS = ("completed", "superseded", "abandoned")

_STRING = {"type": "string"}
_TEXT = {"type": "string", "minLength": 1}
_STRINGS = {"type": "array", "items": _STRING}
_TEXTS = {"type": "array", "items": _TEXT}
_SPEC_ID = {"type": "string", "pattern": SPEC_ID_PATTERN}
_DATE_TIME = {"type": "string", "format": "date-time"}
_AC_ID = {"type": "string", "pattern": r"^A\d+$"}


def _closed(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    """An object schema that admits only `properties`."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": properties,
    }


SPEC_SCHEMA: dict[str, Any] = _closed(
    {
        "id": {**_SPEC_ID, "minLength": 1},
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "risk_tier": {"type": "integer", "enum": [1, 2, 3]},
        "mode": {"type": "string", "enum": list(MODES)},
        "lifecycle_state": {"type": "string", "enum": list(LIFECYCLE_STATES)},
        "resolution": {"type": "string", "enum": list(RESOLUTIONS)},
        "blockers": {
            "type": "array",
            "items": _closed(
                {"reason": _TEXT, "waiting_on": _STRING, "since": _DATE_TIME}, "reason"
            ),
        },
        "supersedes": _SPEC_ID,
        "superseded_by": _SPEC_ID,
        "successors": {
            "type": "array",
            "items": _closed(
                {
                    "target_spec_id": _SPEC_ID,
                    "disposition": {"type": "string", "enum": ["required", "declined", "absorbed"]},
                    "rationale": _TEXT,
                    "absorbed_by": _SPEC_ID,
                },
                "target_spec_id",
                "disposition",
            ),
        },
        "worktree": {"type": "string", "pattern": r"^[a-zA-Z0-9_-]+$"},
        "operational_rollback_slo": _STRING,
        "blast_radius": _closed(
            {
                "modules": {"type": "array", "items": _TEXT, "minItems": 1},
                "data_migration": {"type": "boolean"},
            },
            "modules",
        ),
        "scope": _closed(
            {
                "in": {"type": "array", "items": _TEXT, "minItems": 1},
                "out": {"type": "array", "items": {**_TEXT, "not_pattern": r"[*?]"}},
                "support": _TEXTS,
            },
            "in",
        ),
        "invariants": {"type": "array", "items": _TEXT, "minItems": 1},
        "acceptance": {
            "type": "array",
            "minItems": 1,
            "items": _closed(
                {
                    "id": _AC_ID,
                    "given": _TEXT,
                    "when": _TEXT,
                    "then": _TEXT,
                    "test_command": _STRING,
                    "test_nodeids": _STRINGS,
                    "evidence": _STRING,
                    "narrative": _STRING,
                },
                "id",
                "given",
                "when",
                "then",
            ),
        },
        "non_functional": _closed(
            {
                "performance": _STRINGS,
                "security": _STRINGS,
                "accessibility": _STRINGS,
                "reliability": _STRINGS,
            }
        ),
        "contracts": {
            "type": "array",
            "items": _closed(
                {
                    "name": _TEXT,
                    "type": {
                        "type": "string",
                        "enum": ["api", "schema", "contract-test", "behavior"],
                    },
                    "path": _STRING,
                    "description": _STRING,
                },
                "name",
                "type",
            ),
        },
        "observability": _STRINGS,
        "rollback": _STRINGS,
        "experimental_mode": _closed(
            {"enabled": {"type": "boolean"}, "rationale": _TEXT, "expires_at": _DATE_TIME},
            "enabled",
            "rationale",
            "expires_at",
        ),
        "created_at": _DATE_TIME,
        "updated_at": _DATE_TIME,
        "owner": _STRING,
        "closure_notes": _STRING,
        "evidence": {
            "type": "array",
            "items": _closed(
                {
                    "criterion_id": _AC_ID,
                    "status": {"type": "string", "enum": ["pass", "fail", "unchecked", "waived"]},
                    "evidence_ref": _TEXT,
                    "waiver_reason": _TEXT,
                    "recorded_at": _DATE_TIME,
                    "test_nodeid": _STRING,
                    "command": _STRING,
                    "exit_code": {"type": "integer"},
                    "artifact_path": _STRING,
                    "commit_sha": {"type": "string", "pattern": r"^[0-9a-f]{7,40}$"},
                },
                "criterion_id",
                "status",
                "recorded_at",
            ),
        },
    },
    "id",
    "title",
    "risk_tier",
    "mode",
    "lifecycle_state",
    "blast_radius",
    "scope",
    "invariants",
    "acceptance",
    "non_functional",
    "contracts",
)

# Forbidden v10 surfaces: the rule CAWS gives each, and how to fix it.
_REMOVED_FIELDS: dict[str, tuple[str, str]] = {
    "change_budget": (
        SpecRules.FORBIDDEN_CHANGE_BUDGET,
        "change_budget was removed in CAWS v11: budgets come from the policy's risk_tiers",
    ),
    "acceptance_criteria": (
        SpecRules.FORBIDDEN_ACCEPTANCE_CRITERIA,
        "acceptance_criteria was renamed: write it as acceptance",
    ),
    "include": (SpecRules.FORBIDDEN_SCOPE_INCLUDE, "scope.include was renamed: write scope.in"),
    "exclude": (SpecRules.FORBIDDEN_SCOPE_EXCLUDE, "scope.exclude was renamed: write scope.out"),
    "status": (
        SpecRules.FORBIDDEN_STATUS,
        "status was replaced: write lifecycle_state (draft, active, closed or archived)",
    ),
}


# Our task's own fields, which a CAWS spec cannot carry but the task naming it can.
_TASK_FIELDS = frozenset({"waiver_ids", "repo", "base_ref", "agent", "gates", "execution_mode"})


def spec_shape_problems(data: Any) -> list[Problem]:
    """Every way `data` fails the v11 spec schema, each with its CAWS rule id."""
    return [_problem(error, data) for error in validate(data, SPEC_SCHEMA)]


def _problem(error: SchemaError, data: Any) -> Problem:
    params = error.params
    where = format_loc(error.location)
    if error.keyword == "additionalProperties":
        name = str(params["additionalProperty"])
        path = f"{where}.{name}" if where else name
        if name in _REMOVED_FIELDS:
            rule, message = _REMOVED_FIELDS[name]
            return Problem(path=path, message=message, rule=rule)
        message = f"is not a field of a CAWS v11 spec{' here' if where else ''}; remove it"
        if not where and name in _TASK_FIELDS:
            message += " (the task that names this spec can give it: it is a task field)"
        return Problem(path=path, message=message, rule=SpecRules.SCHEMA_VIOLATION)
    if error.keyword == "required":
        name = str(params["missingProperty"])
        path = f"{where}.{name}" if where else name
        return Problem(
            path=path, message="is required but missing", rule=SpecRules.SCHEMA_VIOLATION
        )
    rule, message = _rule_and_message(error, where, _value_at(data, error.location))
    return Problem(path=where, message=message, rule=rule)


def _rule_and_message(error: SchemaError, where: str, value: Any) -> tuple[str, str]:
    keyword, params = error.keyword, error.params
    if where == "mode" and keyword == "enum":
        head = (
            "'development' was removed in CAWS v11"
            if value == "development"
            else f"{value!r} is not a CAWS mode"
        )
        return SpecRules.MODE_DEVELOPMENT_REMOVED, f"{head}; use one of {', '.join(MODES)}"
    if where == "risk_tier" and keyword == "type":
        message = f"must be the integer 1, 2 or 3, not {value!r} (CAWS v11 takes no 'T2' or '2')"
        return SpecRules.RISK_TIER_TYPE_REJECTED, message
    if where == "risk_tier" and keyword == "enum":
        return SpecRules.RISK_TIER_OUT_OF_RANGE, f"must be 1, 2 or 3, got {value!r}"
    if where == "scope.in" and keyword == "minItems":
        return SpecRules.SCOPE_IN_EMPTY, "must list at least one path the change may touch"
    if where.startswith("scope.out[") and keyword == "not":
        message = f"{value!r}: scope.out takes paths only, no glob (* or ?)"
        return SpecRules.SCOPE_OUT_GLOB_FORBIDDEN, message
    if where == "id" and keyword == "pattern":
        message = (
            f"{value!r} is not a CAWS spec id: upper-case segments joined by '-', ending in "
            "a number and an optional lower-case suffix (e.g. FEAT-12, CAWSFIX-31a)"
        )
        return SpecRules.ID_PATTERN_VIOLATION, message
    return SpecRules.SCHEMA_VIOLATION, _generic_message(keyword, params, value)


def _generic_message(keyword: str, params: dict[str, Any], value: Any) -> str:
    if keyword == "type":
        kind = {"array": "a list", "object": "a mapping", "integer": "an integer"}
        return f"must be {kind.get(params['type'], 'a ' + params['type'])}"
    if keyword == "enum":
        allowed = ", ".join(str(v) for v in params["allowedValues"])
        return f"must be one of {allowed}, got {value!r}"
    if keyword == "minItems":
        return f"must list at least {params['limit']} item(s)"
    if keyword == "minLength":
        return "must not be empty"
    if keyword == "maxLength":
        return f"must be at most {params['limit']} characters"
    if keyword == "pattern":
        return f"{value!r} does not match {params['pattern']}"
    if keyword == "format":
        return f"{value!r} is not a date-time with a time zone (e.g. 2026-01-31T12:00:00Z)"
    return f"is not allowed here ({keyword})"


def _value_at(data: Any, location: tuple[str | int, ...]) -> Any:
    for part in location:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data
