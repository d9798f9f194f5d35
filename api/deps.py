"""Dependencies: everything a route needs, made in the lifespan and reached via Annotated.

Routes name the role they need with one of these (each authenticates the API key,
applies its rate limit and refuses lower roles with 403):

    async def route(principal: ViewerDep) -> ...    # read
    async def route(principal: OperatorDep) -> ...  # submit, intervene
    async def route(principal: AdminDep) -> ...     # keys, waivers, settings

`principal.tenant` scopes every read and write; `principal.actor` is what the audit log
records.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from agency.inference import Engine
from agency.inference.chat import ChatService
from api.auth import Principal, require_admin, require_operator, require_viewer
from api.state import (
    AppState,
    SessionDep,
    StateDep,
    get_session,
    get_state,
)

ViewerDep = Annotated[Principal, Depends(require_viewer)]
OperatorDep = Annotated[Principal, Depends(require_operator)]
AdminDep = Annotated[Principal, Depends(require_admin)]


def get_engine(connection: HTTPConnection) -> Engine:
    """The inference engine (made in the lifespan; HTTPConnection: routes and WebSockets)."""
    return connection.app.state.inference


def get_chat(connection: HTTPConnection) -> ChatService:
    return connection.app.state.chat


EngineDep = Annotated[Engine, Depends(get_engine)]
ChatDep = Annotated[ChatService, Depends(get_chat)]

__all__ = [
    "AdminDep",
    "AppState",
    "ChatDep",
    "EngineDep",
    "OperatorDep",
    "Principal",
    "SessionDep",
    "StateDep",
    "ViewerDep",
    "get_chat",
    "get_engine",
    "get_session",
    "get_state",
]
