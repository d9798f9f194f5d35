"""A small JSON-Schema subset, enough to check a document the way CAWS's AJV does.

Only what the CAWS spec schema uses: type, enum, pattern, minLength, maxLength,
minItems, required, properties, additionalProperties (false), items, not-pattern and the
date-time format. Every failure is reported (AJV's allErrors) as a SchemaError carrying
the keyword and the location as a list of keys and indexes, so the caller can give it
the CAWS rule id and a readable path. One difference from AJV, on purpose: a value of
the wrong type is reported once (its type), not again for each keyword it then fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Location = tuple[str | int, ...]

# RFC 3339 date-time with a required offset, as ajv-formats' `date-time` checks it.
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True)
class SchemaError:
    keyword: str
    location: Location
    # keyword-specific detail: the missing or unknown property, the allowed values, ...
    params: dict[str, Any] = field(default_factory=dict)


def is_date_time(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        return False
    try:
        # Ranges (month 13, hour 25, February 30) are refused as by ajv-formats.
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return False
    return True


def _type_ok(value: Any, expected: str) -> bool:
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        # JSON has one number type: 2.0 is an integer to AJV; a boolean is not.
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    raise ValueError(f"schema type {expected!r} is not supported here")


def validate(value: Any, schema: dict[str, Any], location: Location = ()) -> list[SchemaError]:
    """Every way `value` fails `schema`, in document order."""
    expected = schema.get("type")
    if expected is not None and not _type_ok(value, expected):
        return [SchemaError("type", location, {"type": expected})]
    errors: list[SchemaError] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(SchemaError("enum", location, {"allowedValues": schema["enum"]}))
    if isinstance(value, str):
        errors += _string_errors(value, schema, location)
    if isinstance(value, list):
        errors += _array_errors(value, schema, location)
    if isinstance(value, dict):
        errors += _object_errors(value, schema, location)
    return errors


def _string_errors(value: str, schema: dict[str, Any], location: Location) -> list[SchemaError]:
    errors: list[SchemaError] = []
    if len(value) < schema.get("minLength", 0):
        errors.append(SchemaError("minLength", location, {"limit": schema["minLength"]}))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(SchemaError("maxLength", location, {"limit": schema["maxLength"]}))
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(SchemaError("pattern", location, {"pattern": schema["pattern"]}))
    forbidden = schema.get("not_pattern")
    if forbidden is not None and re.search(forbidden, value):
        errors.append(SchemaError("not", location, {"pattern": forbidden}))
    if schema.get("format") == "date-time" and not is_date_time(value):
        errors.append(SchemaError("format", location, {"format": "date-time"}))
    return errors


def _array_errors(
    value: list[Any], schema: dict[str, Any], location: Location
) -> list[SchemaError]:
    errors: list[SchemaError] = []
    if len(value) < schema.get("minItems", 0):
        errors.append(SchemaError("minItems", location, {"limit": schema["minItems"]}))
    items = schema.get("items")
    if items is not None:
        for i, item in enumerate(value):
            errors += validate(item, items, (*location, i))
    return errors


def _object_errors(
    value: dict[str, Any], schema: dict[str, Any], location: Location
) -> list[SchemaError]:
    errors: list[SchemaError] = []
    properties: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            errors.append(SchemaError("required", location, {"missingProperty": name}))
    for key, item in value.items():
        if key in properties:
            errors += validate(item, properties[key], (*location, key))
        elif schema.get("additionalProperties") is False:
            errors.append(
                SchemaError("additionalProperties", location, {"additionalProperty": key})
            )
    return errors
