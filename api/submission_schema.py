"""The request schema of POST /api/v1/tasks: the TaskSpec model's schema plus every rule
of the submission checks (council.validation) that JSON Schema can say.

What it cannot say, and what is therefore only refused (422) by the server, is listed in
NOT_IN_SCHEMA (and in the operation's description): rules about the repository's
contents and about uniqueness by a key inside a list.
"""

from __future__ import annotations

import copy
from typing import Any

from council.credentials import SECRET_NAME
from council.spec import TaskSpec
from council.waivers import WAIVER_ID_PATTERN

REF = "#/components/schemas/{model}"
ROOT = "TaskSpec"
# Any JSON value whose strings hold no NUL (api.openapi adds the component).
JSON_VALUE = {"$ref": REF.format(model="JsonValue")}

# What Python's str.split()/strip() take for whitespace, spelled out: the engines that
# read a pattern (ECMA 262, Rust, Python) disagree on `\s`.
_WS = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
SOLID = rf"[^{_WS}\u0000]"
SPACE = rf"[{_WS}]"
_ANY = r"[^\u0000]"
# A scope entry: relative to the repository root (not /x, \x or C:/x), no `..` segment,
# not blank, no NUL (council.validation.scope_path_problems).
SCOPE_PATH = (
    r"^(?![\\/])(?![A-Za-z]:[\\/])"
    rf"(?!{_ANY}*?(?:^|[\\/])\.\.(?:[\\/]|(?![\s\S])))"
    rf"(?={_ANY}*{SOLID}){_ANY}*$"
)
# A scope entry that reads as a path, not prose (council.caws.scope_check): one word, or
# two or three words with a `/` among them.
NOT_PROSE = (
    rf"^{SPACE}*(?:{SOLID}*"
    rf"|(?={_ANY}*/){SOLID}+(?:{SPACE}+{SOLID}+){{1,2}}){SPACE}*$"
)
# CAWS tier spellings accepted for risk_tier besides the number: "2", "T2", " t2 ".
TIER_TEXT = rf"^{SPACE}*[Tt]?{SPACE}*[1-3]{SPACE}*$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,255}$"
GOVERNANCE = ("id", "title", "risk_tier", "mode", "scope")

NOT_IN_SCHEMA = (
    "acceptance criterion ids and gate names are unique within their list",
    "a secret is not also a plain `agent.env` variable",
    "no `agent.env` entry looks like a credential (by its name or its value)",
    "`caws_spec` names a CAWS spec that exists at `base_ref` in a local `repo`, and CAWS "
    "accepts it; the repository's policy and waiver files are readable",
    "each of `waiver_ids` names a waiver file that exists and is valid",
)


def task_spec_schemas() -> dict[str, dict[str, Any]]:
    """The request body's schema (`TaskSpec`) and the components it refers to."""
    schema = TaskSpec.model_json_schema(ref_template=REF)
    defs: dict[str, dict[str, Any]] = schema.pop("$defs")
    defs.pop("GovernanceWarning")  # only under `warnings`, which the server replaces
    root = copy.deepcopy(schema)
    props = root["properties"]

    root["additionalProperties"] = JSON_VALUE
    props["warnings"] = {
        **JSON_VALUE,
        "description": "Ignored: the server says what it noticed reading the governance "
        "files in the task's `warnings`, replacing anything sent here",
    }
    props["risk_tier"] = {
        "anyOf": [
            {"type": "integer", "minimum": 1, "maximum": 3},
            {"type": "string", "pattern": TIER_TEXT},
        ],
        "description": "1 (most critical) to 3; CAWS spellings such as `T2` are accepted",
    }
    props["waiver_ids"]["items"]["pattern"] = WAIVER_ID_PATTERN
    acceptance = props["acceptance"]
    acceptance["minItems"] = 1
    props["acceptance_criteria"] = {
        **JSON_VALUE,
        "description": "CAWS's name for `acceptance`: read as `acceptance` when that is "
        "not given (and then held to its schema)",
    }
    # The governance half comes from the CAWS spec when `caws_spec` names one; otherwise
    # the body must carry it, with at least one acceptance criterion.
    root["required"] = [name for name in root["required"] if name not in GOVERNANCE]
    root["if"] = {"required": ["caws_spec"], "properties": {"caws_spec": {"type": "string"}}}
    root["then"] = {}
    root["else"] = {
        "required": list(GOVERNANCE),
        "anyOf": [
            {"required": ["acceptance"]},
            {
                "not": {"required": ["acceptance"]},
                "required": ["acceptance_criteria"],
                "properties": {"acceptance_criteria": copy.deepcopy(acceptance)},
            },
        ],
    }

    scope = defs["Scope"]
    scope["additionalProperties"] = JSON_VALUE
    for key in ("in", "out", "support"):
        scope["properties"][key]["items"]["pattern"] = SCOPE_PATH
    scope["properties"]["in"]["minItems"] = 1
    scope["properties"]["in"]["contains"] = {"type": "string", "pattern": NOT_PROSE}
    scope["required"] = ["in"]
    scope["description"] = (
        "Paths relative to the repository root. `in` needs at least one entry that reads "
        "as a path (one word, or up to three with a `/`), not only prose"
    )

    defs["AcceptanceCriterion"]["additionalProperties"] = JSON_VALUE

    agent = defs["AgentSpec"]
    agent["properties"]["env"]["propertyNames"] = {"pattern": ENV_NAME}
    secrets = agent["properties"]["secrets"]
    secrets["items"]["pattern"] = SECRET_NAME.pattern
    secrets["uniqueItems"] = True
    agent["description"] = "Either `argv` (a command) or `model` with a non-empty `prompt`"
    agent["anyOf"] = [
        {
            "required": ["argv"],
            "properties": {"argv": {"type": "array"}, "model": {"type": "null"}},
        },
        {
            "required": ["model", "prompt"],
            "properties": {
                "model": {"type": "string"},
                "prompt": {"type": "string", "minLength": 1},
                "argv": {"type": "null"},
            },
        },
    ]
    root["description"] = (
        "A task: a CAWS working spec (governance) and what to run. Refused (422) beyond "
        "this schema: " + "; ".join(NOT_IN_SCHEMA) + "."
    )
    return {ROOT: root, **defs}
