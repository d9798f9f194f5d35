"""Registering the task workflows' search attributes (domain/search_attributes.py) in a
namespace, through Temporal's operator service: what `agency temporal setup` does on a
cluster (`agency up` gives its embedded dev server `--search-attribute` flags instead).

Idempotent: attributes already registered with the right type are left alone. The
server itself silently ignores a second registration of a name, even with another type,
so the registered ones are listed first and a name registered with another type is an
error here, not a no-op that leaves every task's start refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from domain import search_attributes


class SearchAttributeConflict(Exception):
    """A name of ours is registered with another type."""


@dataclass
class Registration:
    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)


def _proto_type(key: SearchAttributeKey[Any]) -> IndexedValueType.ValueType:
    # The SDK's enum has the protocol's numbers (KEYWORD = 2 in both).
    return IndexedValueType.ValueType(int(key.indexed_value_type))


def _type_name(value: int) -> str:
    try:
        return search_attributes.CLI_TYPE_NAMES[SearchAttributeIndexedValueType(value)]
    except (ValueError, KeyError):
        return f"type {value}"


async def _registered(client: Client, namespace: str) -> dict[str, int] | None:
    """Custom attributes registered in `namespace`, name to type; None when the server
    cannot list them (the time-skipping test server only implements adding)."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
    except RPCError as err:
        if err.status == RPCStatusCode.UNIMPLEMENTED:
            return None
        raise
    return dict(listed.custom_attributes)


async def register_search_attributes(client: Client, namespace: str) -> Registration:
    """Register every attribute of ours missing from `namespace`. RPCError when the server
    refuses; SearchAttributeConflict when a name is taken by another type."""
    registered = await _registered(client, namespace)
    done = Registration()
    missing: dict[str, IndexedValueType.ValueType] = {}
    for key in search_attributes.ALL:
        wanted = _proto_type(key)
        have = None if registered is None else registered.get(key.name)
        if have is None:
            missing[key.name] = wanted
        elif have == wanted:
            done.already.append(key.name)
        else:
            raise SearchAttributeConflict(
                f"search attribute {key.name} is registered as {_type_name(have)}, "
                f"not {_type_name(wanted)}; "
                "remove it (`temporal operator search-attribute remove`) and run this again"
            )
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
        done.added = sorted(missing)
    return done
