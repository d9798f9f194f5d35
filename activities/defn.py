"""Registering an activity under its typed reference (domain/activities.py).

`@implements(RUN_AGENT)` is `@activity.defn(name=RUN_AGENT.name)` plus a check, when the
module loads, that the method takes the reference's input type and returns its output
type: an activity whose signature drifts from what the workflow sends and expects fails
at import, in every test, rather than in a running task. The decorator's own type says
the same to a type checker.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import activity

from domain.activities import ActivityRef

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT")
SelfT = TypeVar("SelfT")

ActivityMethod = Callable[[SelfT, InputT], Awaitable[OutputT]]


def implements(
    ref: ActivityRef[InputT, OutputT],
) -> Callable[[ActivityMethod[SelfT, InputT, OutputT]], ActivityMethod[SelfT, InputT, OutputT]]:
    def register(
        method: ActivityMethod[SelfT, InputT, OutputT],
    ) -> ActivityMethod[SelfT, InputT, OutputT]:
        check_signature(ref, method)
        return activity.defn(name=ref.name)(method)

    return register


def check_signature(ref: ActivityRef[Any, Any], method: Callable[..., Any]) -> None:
    """Raise TypeError unless `method(self, inp: ref.input) -> ref.output` (async)."""
    where = f"activity {ref.name!r} ({method.__qualname__})"
    if not inspect.iscoroutinefunction(method):
        raise TypeError(f"{where} must be async")
    params = list(inspect.signature(method).parameters)
    if len(params) != 2:
        raise TypeError(f"{where} must take self and one argument, not {params}")
    hints = typing.get_type_hints(method)
    given, returned = hints.get(params[1]), hints.get("return")
    if given is not ref.input:
        raise TypeError(f"{where} takes {given}, its reference says {ref.input.__name__}")
    if returned is not ref.output:
        raise TypeError(f"{where} returns {returned}, its reference says {ref.output}")
