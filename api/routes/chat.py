"""/api/v1/chat: persisted chat sessions with the model, streamed over a WebSocket.

    POST /api/v1/chat/session            create a session (operator)
    GET  /api/v1/chat/sessions           the tenant's sessions (viewer)
    GET  /api/v1/chat/session/{id}       one session and its messages (viewer)
    WS   /api/v1/chat/ws/{id}?after=N    send {"role": "user", "content": "..."}; receive
                                         the frames above N, then live ones (see
                                         agency/inference/chat.py for the frames)

The WebSocket takes the API key as the HTTP routes do (`Authorization: Bearer` or
`X-API-Key`), needs the operator role, and spends one request of the key's rate limit
per connection and per message. A bad frame gets an error frame; the connection stays.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Row

from agency.db import chat as store
from agency.inference import InferenceError
from agency.inference.chat import MAX_CONTENT, ChatBusy, Frame
from api.auth import Principal
from api.deps import ChatDep, EngineDep, OperatorDep, SessionDep, StateDep, ViewerDep
from api.problems import FieldProblem, Problem, invalid, not_found
from api.state import AppState

router = APIRouter(prefix="/api/v1/chat", tags=["chat"])

SessionId = Annotated[str, Path(min_length=1, max_length=36, description="a chat session id")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such session in the caller's tenant"}
}

# Close codes (4000-4999 are the application's): the HTTP status they stand for + 4000.
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_RATE_LIMITED = 4429
# The role a chat connection needs (the dashboard's chat, api/ui, asks the same).
CHAT_ROLE = "operator"


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200)
    model: str | None = Field(
        default=None,
        max_length=200,
        description="A model this API knows (GET /api/v1/models); default: the current one",
        # The names come from this process's configuration (api.contract fills them in).
        json_schema_extra={"x-enum-from": "models"},
    )


class SessionPublic(BaseModel):
    id: str
    title: str | None
    model: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_seq: int


class MessagePublic(BaseModel):
    seq: int
    first_seq: int
    role: str
    content: str
    model: str | None
    finish_reason: str | None
    created_at: datetime


class SessionDetail(SessionPublic):
    messages: list[MessagePublic]


class SessionList(BaseModel):
    sessions: list[SessionPublic]


class UserFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(pattern="^user$")
    content: str = Field(min_length=1, max_length=MAX_CONTENT)


def _public(row: store.ChatSession | Row[Any]) -> SessionPublic:
    return SessionPublic.model_validate(row, from_attributes=True)


@router.post(
    "/session",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionPublic,
    summary="Create a chat session",
)
async def create_session(
    body: SessionCreate, principal: OperatorDep, session: SessionDep, engine: EngineDep
) -> SessionPublic:
    if body.model is not None and body.model not in engine.catalog.names():
        known = ", ".join(engine.catalog.names())
        raise invalid([FieldProblem(path="model", message=f"unknown model; known: {known}")])
    row = await store.create_session(
        session,
        tenant=principal.tenant,
        created_by=principal.actor,
        title=body.title,
        model=body.model,
    )
    return _public(row)


@router.get("/sessions", response_model=SessionList, summary="The tenant's chat sessions")
async def list_sessions(principal: ViewerDep, state: StateDep) -> SessionList:
    rows = await store.list_sessions(state.reader, principal.tenant)
    return SessionList(sessions=[_public(r) for r in rows])


@router.get(
    "/session/{session_id}",
    response_model=SessionDetail,
    responses=NOT_FOUND,
    summary="A chat session and its messages",
)
async def get_session(
    session_id: SessionId, principal: ViewerDep, state: StateDep
) -> SessionDetail:
    row = await store.read_session(state.reader, session_id, principal.tenant)
    if row is None:
        raise not_found(f"chat session {session_id}")
    rows = await store.messages(state.reader, session_id)
    return SessionDetail(
        **_public(row).model_dump(),
        messages=[MessagePublic.model_validate(m, from_attributes=True) for m in rows],
    )


# ---------------------------------------------------------------------------- WebSocket
async def _authenticate(ws: WebSocket, state: AppState) -> tuple[Principal | None, int, str]:
    """(principal, close code, reason): the key from the headers, as for HTTP routes."""
    header = ws.headers.get("authorization", "")
    raw = header[7:].strip() if header.lower().startswith("bearer ") else ""
    raw = raw or ws.headers.get("x-api-key", "").strip()
    if not raw:
        return None, CLOSE_UNAUTHORIZED, "send an API key as `Authorization: Bearer …`"
    row = await state.keys.verify(raw)
    if row is None:
        return None, CLOSE_UNAUTHORIZED, "the API key is not valid"
    principal = Principal(
        actor=row.name,
        tenant=row.tenant,
        role=row.role,  # type: ignore[arg-type]
        key_id=row.id,
        key_prefix=row.prefix,
    )
    if not principal.allows(CHAT_ROLE):
        return None, CLOSE_FORBIDDEN, f"chat needs the {CHAT_ROLE} role; the key is {row.role}"
    if not (await state.limiter.check(row.id, row.role)).allowed:
        return None, CLOSE_RATE_LIMITED, "rate limit reached; retry later"
    return principal, 0, ""


async def _refuse(ws: WebSocket, code: int, reason: str) -> None:
    await ws.accept()
    await ws.send_json({"type": "error", "detail": reason})
    await ws.close(code=code, reason=reason[:120])


@router.websocket("/ws/{session_id}")
async def chat_socket(
    ws: WebSocket,
    session_id: str,
    chat: ChatDep,
    after: Annotated[int, Query(ge=0)] = 0,
) -> None:
    state: AppState = ws.app.state.agency
    principal, code, reason = await _authenticate(ws, state)
    if principal is None:
        await _refuse(ws, code, reason)
        return
    await serve_chat(ws, state, chat, principal, session_id, after)


async def serve_chat(
    ws: WebSocket,
    state: AppState,
    chat: ChatDep,
    principal: Principal,
    session_id: str,
    after: int,
) -> None:
    """The connection of an authenticated `principal` to a session of its tenant (also
    used by the dashboard's chat, which authenticates with its session cookie)."""
    row = await store.read_session(state.reader, session_id, principal.tenant)
    if row is None:
        await _refuse(ws, CLOSE_NOT_FOUND, f"chat session {session_id} not found")
        return
    await ws.accept()
    queue, live = chat.subscribe(session_id)
    try:
        # A client cannot have seen past the newest frame: a larger `after` would mute it.
        sent = min(after, max([row.last_seq, *(f["seq"] for f in live)]))
        for frame in [*await chat.replay(session_id, sent), *live]:
            if frame["seq"] > sent:
                await ws.send_json(frame)
                sent = frame["seq"]
        await ws.send_json({"type": "ready", "session": session_id, "last_seq": sent})
        writer = asyncio.create_task(_write(ws, queue, sent))
        try:
            await _read(ws, queue, chat, row, principal, state)
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
    except WebSocketDisconnect:
        pass
    finally:
        chat.unsubscribe(session_id, queue)


async def _write(ws: WebSocket, queue: asyncio.Queue[Frame], sent: int) -> None:
    """The one sender of this connection: session frames in order, each once; errors."""
    while True:
        frame = await queue.get()
        seq = frame.get("seq")
        if seq is not None:
            if seq <= sent:
                continue
            sent = seq
        await ws.send_json(frame)


async def _read(
    ws: WebSocket,
    queue: asyncio.Queue[Frame],
    chat: ChatDep,
    row: Row[Any],
    principal: Principal,
    state: AppState,
) -> None:
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        problem = await _handle(message, chat, row, principal, state)
        if problem is not None:
            # Through the queue: the writer is this connection's only sender.
            queue.put_nowait({"type": "error", "detail": problem})


async def _handle(
    message: dict[str, Any],
    chat: ChatDep,
    row: Row[Any],
    principal: Principal,
    state: AppState,
) -> str | None:
    """Start a reply for one client frame; returns what is wrong with it, if anything."""
    text = message.get("text")
    if text is None:
        return 'frames are JSON text: {"role": "user", "content": "..."}'
    try:
        frame = UserFrame.model_validate(json.loads(text))
    except json.JSONDecodeError as err:
        return f"not JSON: {err}"
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "frame"
        return f'{where}: {first["msg"]} (send {{"role": "user", "content": "..."}})'
    if principal.key_id:
        decision = await state.limiter.check(principal.key_id, principal.role)
        if not decision.allowed:
            return "rate limit reached; retry later"
    try:
        await chat.submit(row, frame.content)
    except ChatBusy as err:
        return str(err)
    except InferenceError as err:
        return str(err)
    return None
