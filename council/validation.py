"""Turning submitted data into a TaskSpec, with every problem named at once.

Schema errors (from pydantic) and semantic errors (checks pydantic cannot express) are
collected into one list, so a submitter sees everything wrong in one answer. Unknown
top-level fields are kept in `model_extra`: real CAWS specs carry fields we do not use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from council.caws import caws_governance, merge_caws_spec
from council.caws.rules import WaiverRules
from council.caws.scope_check import scope_findings
from council.credentials import SECRET_NAME, credential_reason
from council.problems import Problem, SpecInvalid, dedupe, problems_from_validation_error
from council.spec import TaskSpec
from council.tiers import parse_tier
from council.waivers import WAIVER_ID_PATTERN

__all__ = [
    "Problem",
    "SpecInvalid",
    "caws_governance",
    "merge_caws_spec",
    "parse_task_spec",
    "scope_path_problems",
    "semantic_problems",
]

WAIVER_ID = re.compile(WAIVER_ID_PATTERN)
_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")
_MODES = "feature, refactor, fix, doc, chore"


def parse_task_spec(data: Mapping[str, Any]) -> TaskSpec:
    """Validate a submitted task; raise SpecInvalid listing every problem with its path."""
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        raise SpecInvalid([Problem(path="", message=f"a task spec must be a mapping, got {kind}")])
    raw = _normalise(data)
    problems: list[Problem] = []
    spec: TaskSpec | None = None
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as exc:
        problems.extend(problems_from_validation_error(exc, messages=_friendlier(raw)))
    problems.extend(semantic_problems(raw))
    problems = dedupe(problems)
    if problems or spec is None:
        raise SpecInvalid(problems)
    return spec


def _normalise(data: Mapping[str, Any]) -> dict[str, Any]:
    """Accept CAWS spellings: risk_tier "T2"/"2", and `acceptance_criteria` for `acceptance`."""
    raw = dict(data)
    tier = parse_tier(raw.get("risk_tier"))
    if tier is not None:
        raw["risk_tier"] = tier
    if "acceptance" not in raw and "acceptance_criteria" in raw:
        raw["acceptance"] = raw.pop("acceptance_criteria")
    return raw


def _friendlier(raw: Mapping[str, Any]) -> dict[str, str]:
    """Messages that say what is accepted, for fields whose pydantic wording is opaque."""
    messages: dict[str, str] = {}
    if "risk_tier" in raw:
        got = raw["risk_tier"]
        messages["risk_tier"] = f"must be 1, 2 or 3 (CAWS 'T1'..'T3' also accepted), got {got!r}"
    if "mode" in raw:
        messages["mode"] = f"must be one of {_MODES}, got {raw['mode']!r}"
    return messages


def semantic_problems(raw: Mapping[str, Any]) -> list[Problem]:
    """Checks beyond the schema. Defensive about shapes: the schema reports wrong types."""
    return [
        *_tier_problems(raw.get("risk_tier")),
        *_scope_problems(raw.get("scope")),
        *_acceptance_problems(raw.get("acceptance")),
        *_gate_problems(raw.get("gates")),
        *_agent_problems(raw.get("agent")),
        *_waiver_id_problems(raw.get("waiver_ids")),
    ]


def _tier_problems(tier: Any) -> list[Problem]:
    # Pydantic reads true as 1; a yes/no is not a risk tier.
    if isinstance(tier, bool):
        return [Problem(path="risk_tier", message=f"must be 1, 2 or 3, got {tier!r}")]
    return []


def scope_path_problems(entry: str) -> list[str]:
    """Why a scope entry is unsafe: scope is relative to the worktree and must stay in it."""
    problems: list[str] = []
    if "\x00" in entry:
        problems.append("must not contain a NUL character")
    if entry.startswith(("/", "\\")) or _WINDOWS_ABSOLUTE.match(entry):
        problems.append(f"must be relative to the repository root, got absolute {entry!r}")
    if ".." in re.split(r"[\\/]", entry):
        problems.append(f"must not contain '..', got {entry!r}")
    if not entry.strip():
        problems.append("must not be empty")
    return problems


def _scope_problems(scope: Any) -> list[Problem]:
    if not isinstance(scope, Mapping):
        return []  # missing or wrong type: the schema says so
    problems: list[Problem] = []
    ins = scope.get("in")
    if ins is None or (isinstance(ins, list) and not ins):
        problems.append(Problem(path="scope.in", message="must list at least one path"))
    # A scope.in of prose only admits nothing: refused, with how to write it.
    problems += scope_findings(scope, None)[0]
    for key in ("in", "out", "support"):
        entries = scope.get(key)
        if not isinstance(entries, list):
            continue
        for i, entry in enumerate(entries):
            if isinstance(entry, str):
                for message in scope_path_problems(entry):
                    problems.append(Problem(path=f"scope.{key}[{i}]", message=message))
    return problems


def _acceptance_problems(acceptance: Any) -> list[Problem]:
    if acceptance is None or (isinstance(acceptance, list) and not acceptance):
        return [Problem(path="acceptance", message="must list at least one acceptance criterion")]
    if not isinstance(acceptance, list):
        return []
    return _duplicates(acceptance, "acceptance", "id", "acceptance id")


def _gate_problems(gates: Any) -> list[Problem]:
    if not isinstance(gates, list):
        return []
    problems = _duplicates(gates, "gates", "name", "gate name")
    for i, gate in enumerate(gates):
        if isinstance(gate, Mapping):
            problems += _argv_problems(gate.get("argv"), f"gates[{i}].argv")
    return problems


def _argv_problems(argv: Any, base: str) -> list[Problem]:
    """A command the operating system could not start: a NUL byte ends a C string."""
    if not isinstance(argv, list):
        return []
    return [
        Problem(path=f"{base}[{i}]", message="must not contain a NUL character")
        for i, arg in enumerate(argv)
        if isinstance(arg, str) and "\x00" in arg
    ]


def _env_problems(env: Any) -> list[Problem]:
    """Variables the operating system could not set (names are C identifiers here)."""
    if not isinstance(env, Mapping):
        return []
    problems: list[Problem] = []
    for name, value in env.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            message = f"{name!r} is not a variable name (letters, digits, _; not first a digit)"
            problems.append(Problem(path=f"agent.env.{name}", message=message))
        if isinstance(value, str) and "\x00" in value:
            problems.append(
                Problem(path=f"agent.env.{name}", message="must not contain a NUL character")
            )
        elif (
            isinstance(name, str)
            and isinstance(value, str)
            and (reason := credential_reason(name, value))
        ):
            message = (
                f"looks like a credential ({reason}): values in agent.env are stored and "
                f"shown with the task. Name it in agent.secrets instead and give the "
                f"executors its value (AGENCY_SECRET_{name})"
            )
            problems.append(Problem(path=f"agent.env.{name}", message=message))
    return problems


def _duplicates(items: list[Any], base: str, key: str, what: str) -> list[Problem]:
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for i, item in enumerate(items):
        value = item.get(key) if isinstance(item, Mapping) else None
        if not isinstance(value, str):
            continue
        if value in first:
            message = f"duplicate {what} {value!r} (first at {base}[{first[value]}])"
            problems.append(Problem(path=f"{base}[{i}].{key}", message=message))
        else:
            first[value] = i
    return problems


def _agent_problems(agent: Any) -> list[Problem]:
    if not isinstance(agent, Mapping):
        return []
    has_argv = agent.get("argv") is not None
    has_model = agent.get("model") is not None
    problems: list[Problem] = []
    if has_argv and has_model:
        message = "give either argv (a command) or model (with prompt), not both"
        problems.append(Problem(path="agent", message=message))
    elif not has_argv and not has_model:
        message = "must give argv (a command to run) or model (with prompt)"
        problems.append(Problem(path="agent", message=message))
    if has_model and not agent.get("prompt"):
        problems.append(Problem(path="agent.prompt", message="is required when model is given"))
    problems += _argv_problems(agent.get("argv"), "agent.argv")
    problems += _env_problems(agent.get("env"))
    problems += _secret_problems(agent.get("secrets"), agent.get("env"))
    return problems


def _secret_problems(secrets: Any, env: Any) -> list[Problem]:
    if not isinstance(secrets, list):
        return []
    problems: list[Problem] = []
    seen: set[str] = set()
    plain = set(env) if isinstance(env, Mapping) else set()
    for i, name in enumerate(secrets):
        if not isinstance(name, str):
            continue  # the schema says so
        path = f"agent.secrets[{i}]"
        if not SECRET_NAME.fullmatch(name):
            message = f"{name!r} is not a variable name (letters, digits, _; not first a digit)"
            problems.append(Problem(path=path, message=message))
        elif name in seen:
            problems.append(Problem(path=path, message=f"{name} is named twice"))
        elif name in plain:
            message = f"{name} is both a secret and a plain agent.env variable; keep one"
            problems.append(Problem(path=path, message=message))
        seen.add(name)
    return problems


def _waiver_id_problems(waiver_ids: Any) -> list[Problem]:
    if not isinstance(waiver_ids, list):
        return []
    return [
        Problem(
            path=f"waiver_ids[{i}]",
            message=f"{wid!r} is not a CAWS waiver id: upper-case segments joined by '-', "
            "ending in a number (e.g. WV-0001, FEAT-12-SCOPE-01)",
            rule=WaiverRules.INVALID_ID,
        )
        for i, wid in enumerate(waiver_ids)
        if isinstance(wid, str) and not WAIVER_ID.fullmatch(wid)
    ]
