"""CAWS working specs as the governance half of a task.

A CAWS working spec (`.caws/specs/ID.yaml`) says what may change and what "done" means;
the task adds what to run. These helpers translate CAWS spellings to our field names
and combine the two halves. Fields we do not use are kept verbatim. They take a spec
already read (checked or migrated) by `council.caws.specs.read_spec`, or an inline
task's governance, which uses the same spellings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from council.problems import Problem, SpecInvalid
from council.spec import EXECUTION_FIELDS
from council.tiers import parse_tier


def caws_governance(caws: Mapping[str, Any]) -> dict[str, Any]:
    """The governance fields of a CAWS working spec under our names; other fields verbatim.

    CAWS writes `acceptance_criteria` in older specs and risk tiers as "T2"; both are
    mapped. Values are not validated here: `parse_task_spec` names what is wrong.
    """
    if not isinstance(caws, Mapping):
        kind = type(caws).__name__
        raise SpecInvalid([Problem(path="", message=f"a CAWS spec must be a mapping, got {kind}")])
    out = dict(caws)
    tier = parse_tier(out.get("risk_tier"))
    if tier is not None:
        out["risk_tier"] = tier
    if "acceptance" not in out and "acceptance_criteria" in out:
        out["acceptance"] = out.pop("acceptance_criteria")
    if "waiver_ids" not in out and _is_id_list(out.get("waivers")):
        out["waiver_ids"] = out.pop("waivers")
    return out


def merge_caws_spec(task: Mapping[str, Any], caws: Mapping[str, Any]) -> dict[str, Any]:
    """A task from its execution fields and a CAWS spec's governance.

    The task wins for execution fields (it says what to run); the CAWS spec wins for
    everything it states (the repository's governance is not the submitter's to change).
    Task fields the CAWS spec does not mention fill the gaps.
    """
    merged = caws_governance(caws)
    for key, value in task.items():
        if key in EXECUTION_FIELDS or key not in merged:
            merged[key] = value
    return merged


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
