"""The chat panel: the tenant's chat sessions, a session's transcript, and its live
connection. The page's script talks to `/ui/chat/ws/{id}` (the session cookie instead of
an API key; the API's own WebSocket code behind it, api.routes.chat.serve_chat), which
streams replies token by token and resumes after a dropped connection from the last
frame it showed. Without JavaScript a message is posted as a form and the transcript is
read by reloading the page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, WebSocket
from starlette.responses import RedirectResponse, Response

from agency.db import chat as store
from agency.inference import InferenceError
from agency.inference.chat import MAX_CONTENT, ChatBusy
from api.auth import Principal
from api.deps import get_chat
from api.problems import FieldProblem, ProblemError, invalid, not_found
from api.routes.chat import (
    CLOSE_FORBIDDEN,
    CLOSE_RATE_LIMITED,
    CLOSE_UNAUTHORIZED,
    SessionCreate,
    SessionId,
    serve_chat,
)
from api.ui.deps import FormDep, UserDep, sessions_of
from api.ui.render import UiRoute, page
from api.ui.reuse import CHAT_ROLE, CREATE_CHAT, GET_CHAT, LIST_CHATS, body, invoke
from api.ui.session import same_origin

router = APIRouter(prefix="/ui", include_in_schema=False, route_class=UiRoute)
# WebSocket routes take no route class.
socket_router = APIRouter(prefix="/ui", include_in_schema=False)


def can_chat(principal: Principal) -> bool:
    return principal.allows(CHAT_ROLE)


@router.get("/chat")
async def chat_page(request: Request, user: UserDep) -> Response:
    listing = await invoke(LIST_CHATS, request, user.principal)
    return page(
        request,
        "chat.html",
        user,
        title="Chat",
        nav_current="chat",
        sessions=listing.sessions,
        can_create=CREATE_CHAT.allows(user.principal),
    )


@router.post("/chat")
async def create_chat(request: Request, user: UserDep, form: FormDep) -> Response:
    created = await invoke(
        CREATE_CHAT,
        request,
        user.principal,
        body=body(SessionCreate, {"title": form.get("title") or None}),
    )
    return RedirectResponse(f"/ui/chat/{created.id}", status_code=303)


@router.get("/chat/{session_id}")
async def chat_session(request: Request, user: UserDep, session_id: SessionId) -> Response:
    detail = await invoke(GET_CHAT, request, user.principal, session_id=session_id)
    return page(
        request,
        "chat_session.html",
        user,
        title=detail.title or "Chat",
        nav_current="chat",
        chat=detail,
        can_send=can_chat(user.principal),
        max_content=MAX_CONTENT,
    )


@router.post("/chat/{session_id}/messages")
async def post_message(
    request: Request, user: UserDep, form: FormDep, session_id: SessionId
) -> Response:
    """A message without JavaScript: stored and answered as over the WebSocket."""
    if not can_chat(user.principal):
        raise ProblemError(
            403,
            "forbidden",
            "Not allowed for this key's role",
            f"chat needs the {CHAT_ROLE} role; the key is {user.principal.role}",
        )
    content = form.get("content").strip()
    if not content or len(content) > MAX_CONTENT:
        raise invalid([FieldProblem(path="content", message=f"1 to {MAX_CONTENT} characters")])
    state = request.app.state.agency
    row = await store.read_session(state.reader, session_id, user.principal.tenant)
    if row is None:
        raise not_found(f"chat session {session_id}")
    try:
        await get_chat(request).submit(row, content)
    except (ChatBusy, InferenceError) as err:
        raise ProblemError(409, "chat-busy", "The message was not sent", str(err)) from err
    return RedirectResponse(f"/ui/chat/{session_id}#end", status_code=303)


@socket_router.websocket("/chat/ws/{session_id}")
async def chat_socket(
    ws: WebSocket, session_id: str, after: Annotated[int, Query(ge=0)] = 0
) -> None:
    """The chat WebSocket for a signed-in browser (its Origin must be ours)."""
    state = ws.app.state.agency
    code, reason = 0, ""
    user = await sessions_of(ws).user(ws)
    if not same_origin(ws):
        code, reason = CLOSE_FORBIDDEN, "connections are accepted from this dashboard only"
    elif user is None:
        code, reason = CLOSE_UNAUTHORIZED, "sign in to the dashboard first"
    elif not can_chat(user.principal):
        code, reason = CLOSE_FORBIDDEN, f"chat needs the {CHAT_ROLE} role"
    elif not (await state.limiter.check(user.principal.key_id, user.principal.role)).allowed:
        code, reason = CLOSE_RATE_LIMITED, "rate limit reached; retry later"
    if code or user is None:
        await ws.accept()
        await ws.send_json({"type": "error", "detail": reason})
        await ws.close(code=code or CLOSE_UNAUTHORIZED, reason=reason[:120])
        return
    await serve_chat(ws, state, get_chat(ws), user.principal, session_id[:36], after)
