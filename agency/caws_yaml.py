"""YAML as the CAWS kernel reads it: the YAML 1.2 core schema, duplicate keys refused.

CAWS parses with js-yaml's CORE_SCHEMA. PyYAML's safe loader follows YAML 1.1, which
differs where it matters for governance files: `created_at: 2026-01-01` would become a
date (CAWS sees the string, and its schema rules judge the string), `data_migration: no`
a boolean (CAWS sees "no"), and a key written twice would silently keep the last value
(CAWS refuses the file). This loader reads what CAWS reads.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from council.caws.rules import AgencyRules, SpecRules, WaiverRules
from council.caws.specs import SpecReading, read_spec
from council.problems import Problem
from council.waiver_files import WaiverReading, read_waiver, waiver_id_of_file

_CORE_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_DROPPED_TAGS = frozenset({"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool"})


class CoreLoader(yaml.SafeLoader):
    """A safe loader with YAML 1.2 core booleans, no timestamps, unique keys."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, list | dict):
                    continue  # unhashable: the base class reports it
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"duplicated mapping key {key!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]


# Class-level resolver tables: copy SafeLoader's, then drop and re-add what differs.
CoreLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CoreLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _CORE_BOOL, list("tTfF"))


def load_core_yaml(text: str) -> Any:
    """Parse; raises yaml.YAMLError (with a mark) on bad syntax or a duplicated key."""
    return yaml.load(text, Loader=CoreLoader)  # CoreLoader is a SafeLoader


def yaml_error_message(err: yaml.YAMLError) -> str:
    """One line: what is wrong and where (line and column, 1-based)."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "syntax error"
        if mark is not None:
            return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
        return str(problem)
    return str(err).splitlines()[0] if str(err) else "not valid YAML"


def parse_document(
    text: str, *, kind: str, parse_rule: str, empty_rule: str, object_rule: str
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """A YAML document that must be a mapping, or the one problem saying why not.

    `kind` names the document in messages ("spec", "waiver", "policy"); the three rules
    are that kind's parse-layer ids (CAWS has one set per kind).
    """
    try:
        data = load_core_yaml(text)
    except yaml.YAMLError as err:
        return None, [Problem(path="", message=yaml_error_message(err), rule=parse_rule)]
    if data is None:
        message = f"the {kind} document is empty"
        return None, [Problem(path="", message=message, rule=empty_rule)]
    if not isinstance(data, dict):
        got = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        message = f"a {kind} must be a YAML mapping (key: value pairs), got {got}"
        return None, [Problem(path="", message=message, rule=object_rule)]
    return data, []


def read_spec_text(text: str, *, file: str | None = None) -> SpecReading:
    """A spec file's text, parsed as CAWS parses it, then checked (`council.caws`)."""
    data, problems = parse_document(
        text,
        kind="spec",
        parse_rule=SpecRules.YAML_PARSE_FAILED,
        empty_rule=SpecRules.EMPTY_DOCUMENT,
        object_rule=SpecRules.NOT_AN_OBJECT,
    )
    if data is None:
        return SpecReading(file=file, version="unknown", problems=problems)
    return read_spec(data, file=file)


def read_waiver_text(text: str, *, file: str | None = None) -> WaiverReading:
    """A waiver file's text, parsed as CAWS parses it, then checked."""
    data, problems = parse_document(
        text,
        kind="waiver",
        parse_rule=AgencyRules.WAIVER_UNREADABLE,
        empty_rule=AgencyRules.WAIVER_UNREADABLE,
        object_rule=WaiverRules.INVALID_ID,
    )
    if data is None:
        return WaiverReading(
            file=file, waiver_id=waiver_id_of_file(file), generation="unknown", problems=problems
        )
    return read_waiver(data, file=file)
