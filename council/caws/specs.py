"""Reading one CAWS working spec as CAWS reads it, into the governance half of a task.

A v11 spec is checked against CAWS's schema and semantic rules and refused with every
problem and its CAWS rule id. A v10 spec goes through CAWS's v10→v11 migration: refused
only where the migration refuses, otherwise read, with every mapping step a warning.
Real v10 files go beyond what the migration covers; where they do we choose what a user
would expect and say so in a warning (`agency.migrate.*`):

- acceptance items without an id get A1, A2, ... by position (a written id is kept and
  never reused); items written as plain text become criteria whose `then` is that text;
- `change_budget` (which v11 drops in favour of the policy tier) is kept as the task's
  budget, never above the tier's: a spec may tighten its budget, raising it needs a
  waiver as in v11;
- what CAWS v11 would still refuse once migrated (an id CAWS would not accept, a tier 2
  spec without contracts, ...) is a warning, since CAWS's migration accepted the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from council.caws.migrate import REPORT_ONLY_FIELDS, SpecVersion, detect_spec_version, migrate_v10
from council.caws.rules import AgencyRules, SpecRules
from council.caws.spec_semantics import spec_semantic_problems
from council.caws.spec_shape import spec_shape_problems
from council.problems import GovernanceWarning, Problem

# Fields that make a YAML mapping a working spec at all (the older `.caws/*spec*.yaml`
# layout also matches other files, e.g. an agent operating spec).
_SPEC_FIELDS = ("id", "title", "mode", "type", "status", "lifecycle_state", "scope")


@dataclass
class SpecReading:
    """One spec file as read: its governance (None when refused), problems, warnings."""

    file: str | None
    version: SpecVersion
    spec_id: str | None = None
    governance: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[GovernanceWarning] = field(default_factory=list)
    # False for a YAML mapping with none of a working spec's fields.
    is_spec: bool = True

    @property
    def valid(self) -> bool:
        return not self.problems and self.governance is not None


def read_spec(data: Any, *, file: str | None = None) -> SpecReading:
    """Validate (v11) or migrate (v10) one parsed spec."""
    if not isinstance(data, dict):
        got = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        problem = Problem(
            path="", message=f"a spec must be a mapping, got {got}", rule=SpecRules.NOT_AN_OBJECT
        )
        return SpecReading(file=file, version="unknown", problems=[problem])
    version = detect_spec_version(data)
    spec_id = data.get("id") if isinstance(data.get("id"), str) else None
    reading = SpecReading(file=file, version=version, spec_id=spec_id)
    if not any(key in data for key in _SPEC_FIELDS):
        reading.is_spec = False
        message = "has none of a working spec's fields (id, title, mode, scope, ...)"
        reading.problems.append(Problem(path="", message=message, rule=AgencyRules.NOT_A_SPEC))
        return reading
    if version == "v10":
        _read_v10(data, reading)
    else:
        # An unknown shape is judged as v11, as CAWS's validator judges any spec.
        reading.problems = _v11_problems(data)
        if not reading.problems:
            reading.governance = dict(data)
    if reading.governance is not None:
        reading.warnings += _lifecycle_warnings(reading.governance, file)
    return reading


def _v11_problems(data: dict[str, Any]) -> list[Problem]:
    # As CAWS: semantic rules run only on a spec of valid shape.
    return spec_shape_problems(data) or spec_semantic_problems(data)


def _read_v10(data: dict[str, Any], reading: SpecReading) -> None:
    file = reading.file
    migration = migrate_v10(data, file=file)
    reading.warnings += migration.warnings
    if migration.refused:
        reading.problems = migration.refusals
        return
    value = migration.value
    reading.warnings += _assign_acceptance_ids(value, file)
    reading.warnings += [
        GovernanceWarning(
            rule=AgencyRules.V11_RULE_AFTER_MIGRATION,
            message=f"CAWS v11 would refuse this once migrated ({p.rule}): {p.message}; "
            "read anyway, as CAWS's migration accepted the spec",
            path=p.path,
            file=file,
        )
        for p in _v11_problems(value)
    ]
    governance = dict(value)
    # Fields with no v11 home stay on the task, unused, so that nothing written is lost.
    for key, original in migration.report_only.items():
        if key in REPORT_ONLY_FIELDS and key != "change_budget":
            governance[key] = original
    if "change_budget" in data:
        budget, warning = _change_budget(data["change_budget"], file)
        reading.warnings.append(warning)
        if budget is not None:
            governance["change_budget"] = budget
    waivers = governance.get("waivers")
    if isinstance(waivers, list) and all(isinstance(w, str) for w in waivers):
        governance["waiver_ids"] = governance.pop("waivers")
        message = "v10 `waivers` list read as the task's waiver_ids"
        reading.warnings.append(
            GovernanceWarning(
                rule=AgencyRules.WAIVERS_LIST, message=message, path="waivers", file=file
            )
        )
    reading.governance = governance


def _assign_acceptance_ids(value: dict[str, Any], file: str | None) -> list[GovernanceWarning]:
    items = value.get("acceptance")
    if not isinstance(items, list):
        return []
    taken = {i.get("id") for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)}
    assigned: list[str] = []
    texts: list[str] = []
    out: list[Any] = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            out.append(item)
            continue
        if not isinstance(item, dict | str):
            out.append(item)  # neither text nor a mapping: validation names it
            continue
        number = index + 1
        while f"A{number}" in taken:
            number += 1
        new_id = f"A{number}"
        taken.add(new_id)
        if isinstance(item, str):
            out.append({"id": new_id, "given": "", "when": "", "then": item})
            texts.append(f"acceptance[{index}] → {new_id}")
        else:
            out.append({**item, "id": new_id})
            assigned.append(f"acceptance[{index}] → {new_id}")
    value["acceptance"] = out
    warnings: list[GovernanceWarning] = []
    if assigned:
        message = (
            f"acceptance items without an id were given ids by position ({', '.join(assigned)}); "
            "write the ids into the spec to keep them if items move"
        )
        warnings.append(
            GovernanceWarning(
                rule=AgencyRules.ACCEPTANCE_ID_ASSIGNED,
                message=message,
                path="acceptance",
                file=file,
            )
        )
    if texts:
        message = (
            f"acceptance items written as plain text were read as criteria whose `then` is the "
            f"text ({', '.join(texts)})"
        )
        warnings.append(
            GovernanceWarning(
                rule=AgencyRules.ACCEPTANCE_TEXT_ITEM, message=message, path="acceptance", file=file
            )
        )
    return warnings


def _change_budget(raw: Any, file: str | None) -> tuple[dict[str, int] | None, GovernanceWarning]:
    def warning(message: str) -> GovernanceWarning:
        return GovernanceWarning(
            rule=AgencyRules.CHANGE_BUDGET_KEPT, message=message, path="change_budget", file=file
        )

    fields = ("max_files", "max_loc")
    if isinstance(raw, dict) and all(
        isinstance(raw.get(k), int) and not isinstance(raw.get(k), bool) and raw[k] >= 0
        for k in fields
    ):
        budget = {k: raw[k] for k in fields}
        message = (
            f"change_budget ({budget['max_files']} files, {budget['max_loc']} lines) is kept as "
            "this task's budget, within the policy's risk-tier budget (CAWS v11 drops "
            "change_budget and uses the tier's; a larger budget needs a waiver)"
        )
        return budget, warning(message)
    message = (
        f"change_budget {raw!r} is not max_files and max_loc as whole numbers; ignored, the "
        "policy's risk-tier budget applies"
    )
    return None, warning(message)


def _lifecycle_warnings(governance: dict[str, Any], file: str | None) -> list[GovernanceWarning]:
    state = governance.get("lifecycle_state")
    if state not in ("closed", "archived"):
        return []
    resolution = governance.get("resolution")
    message = (
        f"the spec is {state}{f' ({resolution})' if resolution else ''}: CAWS takes no new "
        "work under it; this task runs under it anyway"
    )
    return [
        GovernanceWarning(
            rule=AgencyRules.SPEC_CLOSED, message=message, path="lifecycle_state", file=file
        )
    ]
