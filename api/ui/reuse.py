"""The pages act through the API's own route functions: the same validation, tenant
checks, Temporal updates and audit records (with the signed-in key's name as the actor),
and the same role, read from the route's dependencies the way api.openapi reads it.

`operation("POST", "/api/v1/tasks/{task_id}/approve")` finds the route; `invoke` checks
the role, supplies the route's dependencies (state, a database session, the inference
engine, the chat service, the principal) and calls it with the page's values. What the
route raises (ProblemError: 404 for another tenant's task, 409 when an intervention does
not apply, 503 …) reaches the page as it would reach an API client.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import HTTPConnection

from agency.db.keys import ROLE_RANK, Role
from api.auth import Principal
from api.deps import get_chat, get_engine
from api.problems import FieldProblem, forbidden, invalid
from api.routes import alerts, chat, interventions, keys, models, provenance, tasks, waivers
from api.state import get_session, get_state
from domain.interventions import INTERVENTION_KINDS

ROUTERS = (
    tasks.router,
    interventions.router,
    provenance.router,
    waivers.router,
    keys.router,
    models.router,
    chat.router,
    alerts.router,
)

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    endpoint: Callable[..., Awaitable[Any]]
    role: Role
    # (parameter name, dependency callable) of the route's own dependencies.
    dependencies: tuple[tuple[str, Callable[..., Any]], ...]

    def allows(self, principal: Principal) -> bool:
        return principal.allows(self.role)


def _required_role(dependant: Dependant) -> Role:
    found: Role = "viewer"
    stack = list(dependant.dependencies)
    while stack:
        dep = stack.pop()
        role = getattr(dep.call, "required_role", None)
        if role is not None and ROLE_RANK[role] > ROLE_RANK[found]:
            found = role
        stack.extend(dep.dependencies)
    return found


@functools.cache
def operation(method: str, path: str) -> Operation:
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path == path and method in route.methods:
                deps = tuple(
                    (d.name, d.call)
                    for d in route.dependant.dependencies
                    if d.name is not None and d.call is not None
                )
                return Operation(
                    method, path, route.endpoint, _required_role(route.dependant), deps
                )
    raise LookupError(f"no API route {method} {path}")


def require(op: Operation, principal: Principal) -> None:
    """403, as the API answers, when the key's role is below the route's."""
    if not op.allows(principal):
        raise forbidden(f"this needs the {op.role} role; the key is {principal.role}")


async def invoke(
    op: Operation, connection: HTTPConnection, principal: Principal, **values: Any
) -> Any:
    """Call the route as the API would for `principal` (403 below its role)."""
    require(op, principal)
    state = connection.app.state.agency
    async with AsyncExitStack() as stack:
        kwargs: dict[str, Any] = {}
        for name, call in op.dependencies:
            if call is get_state:
                kwargs[name] = state
            elif call is get_session:
                kwargs[name] = await stack.enter_async_context(state.sessions())
            elif call is get_engine:
                kwargs[name] = get_engine(connection)
            elif call is get_chat:
                kwargs[name] = get_chat(connection)
            elif getattr(call, "required_role", None) is not None:
                kwargs[name] = principal
            else:
                raise TypeError(f"{op.method} {op.path}: cannot supply dependency {name!r}")
        return await op.endpoint(**kwargs, **values)


def body(model: type[Model], data: dict[str, Any]) -> Model:
    """A route's body model from a form's values; 422 listing every problem, as the API."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = [
            FieldProblem(
                path=".".join(str(p) for p in e.get("loc", ())) or "body",
                message=str(e.get("msg")),
            )
            for e in err.errors()
        ]
        raise invalid(problems) from None


# The operations the pages use, found once at import (a renamed route fails loudly).
GET_TASK = operation("GET", "/api/v1/tasks/{task_id}")
TASK_AUDIT = operation("GET", "/api/v1/tasks/{task_id}/audit")
TASK_PROVENANCE = operation("GET", "/api/v1/tasks/{task_id}/provenance")
INTERVENTIONS: dict[str, Operation] = {
    name: operation("POST", f"/api/v1/tasks/{{task_id}}/{name}") for name in INTERVENTION_KINDS
}
LIST_WAIVERS = operation("GET", "/api/v1/waivers")
CREATE_WAIVER = operation("POST", "/api/v1/waivers")
APPROVE_WAIVER = operation("POST", "/api/v1/waivers/{waiver_id}/approve")
REVOKE_WAIVER = operation("POST", "/api/v1/waivers/{waiver_id}/revoke")
LIST_KEYS = operation("GET", "/api/v1/keys")
CREATE_KEY = operation("POST", "/api/v1/keys")
REVOKE_KEY = operation("DELETE", "/api/v1/keys/{key_id}")
LIST_MODELS = operation("GET", "/api/v1/models")
LOAD_MODEL = operation("POST", "/api/v1/models/{name}/load")
SWAP_MODEL = operation("POST", "/api/v1/models/swap")
LIST_CHATS = operation("GET", "/api/v1/chat/sessions")
CREATE_CHAT = operation("POST", "/api/v1/chat/session")
GET_CHAT = operation("GET", "/api/v1/chat/session/{session_id}")
# The chat WebSocket is not an HTTP route: the role it needs is the API's constant.
CHAT_ROLE: Role = chat.CHAT_ROLE  # type: ignore[assignment]
