"""Dependencies: everything a route needs, made in the lifespan and reached via Annotated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.settings import Settings
from api.temporal_gateway import TemporalGateway

MAX_ACTOR = 200


@dataclass
class AppState:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    temporal: TemporalGateway
    http: httpx.AsyncClient


@dataclass(frozen=True)
class Principal:
    """Who is calling. API keys and tenants (issue 3) plug in here."""

    actor: str
    tenant: str = "default"


def get_state(request: Request) -> AppState:
    return request.app.state.agency


async def get_session(
    state: Annotated[AppState, Depends(get_state)],
) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as session:
        yield session


def get_principal(
    x_agency_actor: Annotated[str | None, Header(max_length=MAX_ACTOR)] = None,
) -> Principal:
    actor = (x_agency_actor or "").strip() or "api"
    return Principal(actor=actor)


StateDep = Annotated[AppState, Depends(get_state)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
