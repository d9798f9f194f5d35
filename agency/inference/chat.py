"""Chat sessions over a stream of numbered frames (the WebSocket's content, minus sockets).

Each session has a sequence of frames, numbered from 1 and persisted:
  {"type": "message", "seq", "role": "user", "content"}     a user's message
  {"type": "token", "seq", "text"}                           one piece of the reply
  {"type": "final", "seq", "role": "assistant", "content", "finish_reason", "model", ...}
A reply keeps running when the connection that asked for it goes away; every connection
subscribed to the session receives its frames, and one that reconnects after frame N is
sent frames N+1.. (from the database, then from the reply in progress, then live).
One reply per session runs at a time. Everything here runs on one event loop (the API's).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agency.db import chat as store
from agency.db.reads import Reader
from agency.inference.engine import Engine
from agency.inference.types import ChatMessage, Completion, Token
from agency.redaction import redact

log = logging.getLogger(__name__)

Frame = dict[str, Any]
MAX_CONTENT = 20_000
# History sent to the model: the newest messages (the engine drops more if it must).
MAX_HISTORY = 40


class ChatBusy(RuntimeError):
    """A reply is still being generated in this session."""


@dataclass
class _Channel:
    subscribers: set[asyncio.Queue[Frame]] = field(default_factory=set)
    # The frames of the reply in progress (empty when none is).
    live: list[Frame] = field(default_factory=list)
    busy: bool = False
    task: asyncio.Task[None] | None = None


def frames_of(row: Row[Any], after: int) -> list[Frame]:
    """A stored message as the frames it was sent as, those above `after` only."""
    if row.role != "assistant":
        frame = {"type": "message", "seq": row.seq, "role": row.role, "content": row.content}
        return [frame] if row.seq > after else []
    frames: list[Frame] = [
        {"type": "token", "seq": row.first_seq + i, "text": text}
        for i, text in enumerate(row.tokens)
        if row.first_seq + i > after
    ]
    if row.seq > after:
        frames.append(_final(row.seq, row.content, row.model, row.finish_reason, row.stats))
    return frames


def _final(
    seq: int, content: str, model: str | None, reason: str | None, stats: dict[str, Any]
) -> Frame:
    return {
        "type": "final",
        "seq": seq,
        "role": "assistant",
        "content": content,
        "model": model,
        "finish_reason": reason,
        **stats,
    }


class ChatService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reader: Reader,
        engine: Engine,
        max_tokens: int,
    ) -> None:
        self._sessions = sessions
        self._reader = reader
        self._engine = engine
        self._max_tokens = max_tokens
        self._channels: dict[str, _Channel] = {}

    def _channel(self, session_id: str) -> _Channel:
        return self._channels.setdefault(session_id, _Channel())

    # ------------------------------------------------------------------ connections
    def subscribe(self, session_id: str) -> tuple[asyncio.Queue[Frame], list[Frame]]:
        """A queue of this session's frames from now on, and the in-progress reply's frames
        so far. Call before `replay`, so that nothing falls between the two."""
        channel = self._channel(session_id)
        queue: asyncio.Queue[Frame] = asyncio.Queue()
        channel.subscribers.add(queue)
        return queue, list(channel.live)

    def unsubscribe(self, session_id: str, queue: asyncio.Queue[Frame]) -> None:
        channel = self._channels.get(session_id)
        if channel is not None:
            channel.subscribers.discard(queue)
            if not channel.subscribers and not channel.busy:
                del self._channels[session_id]

    async def replay(self, session_id: str, after: int) -> list[Frame]:
        rows = await store.messages(self._reader, session_id, after_seq=after)
        return [frame for row in rows for frame in frames_of(row, after)]

    # ------------------------------------------------------------------ messages
    async def submit(self, row: Row[Any], content: str) -> None:
        """Store the user's message and start the reply (raises ChatBusy). Credentials in
        it are redacted first: they reach neither the database, nor the stream, nor the
        model."""
        content = redact(content)
        channel = self._channel(row.id)
        if channel.busy:
            raise ChatBusy(
                "a reply is still being generated in this session; wait for its final frame"
            )
        channel.busy = True
        try:
            async with self._sessions() as session:
                seq = await store.last_seq(session, row.id) + 1
                await store.append_message(
                    session, row.id, role="user", content=content, first_seq=seq, seq=seq
                )
            # Committed: the reader sees the message just stored.
            history = await store.messages(self._reader, row.id)
        except BaseException:
            channel.busy = False
            raise
        self._broadcast(
            channel, {"type": "message", "seq": seq, "role": "user", "content": content}
        )
        turns = [
            ChatMessage(role=m.role, content=m.content)  # type: ignore[arg-type]
            for m in history[-MAX_HISTORY:]
            if m.role in ("user", "assistant", "system") and m.content
        ]
        channel.task = asyncio.create_task(self._reply(channel, row, turns, seq))

    async def _reply(
        self, channel: _Channel, row: Row[Any], turns: list[ChatMessage], seq: int
    ) -> None:
        first = seq + 1
        tokens: list[str] = []
        model, reason, stats = row.model, "error", {}
        try:
            events = self._engine.stream(turns, model=row.model, max_tokens=self._max_tokens)
            async with aclosing(events) as stream:
                async for event in stream:
                    if isinstance(event, Token):
                        seq += 1
                        tokens.append(event.text)
                        frame = {"type": "token", "seq": seq, "text": event.text}
                        channel.live.append(frame)
                        self._broadcast(channel, frame)
                    elif isinstance(event, Completion):
                        model, reason = event.model, event.finish_reason
                        stats = {
                            "prompt_tokens": event.prompt_tokens,
                            "generation_tokens": event.generation_tokens,
                            "ttft_s": event.ttft_s,
                            "generation_tps": event.generation_tps,
                        }
        except asyncio.CancelledError:
            reason, stats = "canceled", {"error": "the server stopped during the reply"}
            await asyncio.shield(
                self._finish(channel, row, first, seq + 1, tokens, model, reason, stats)
            )
            raise
        except Exception as err:
            log.warning("chat reply in session %s failed: %s", row.id, err)
            stats = {"error": f"{type(err).__name__}: {err}"}
        await self._finish(channel, row, first, seq + 1, tokens, model, reason, stats)

    async def _finish(
        self,
        channel: _Channel,
        row: Row[Any],
        first: int,
        seq: int,
        tokens: list[str],
        model: str | None,
        reason: str,
        stats: dict[str, Any],
    ) -> None:
        content = redact("".join(tokens))
        if content != "".join(tokens):
            # A credential spanning tokens: keep only the redacted whole.
            tokens = [content]
        try:
            async with self._sessions() as session:
                await store.append_message(
                    session,
                    row.id,
                    role="assistant",
                    content=content,
                    first_seq=first,
                    seq=seq,
                    tokens=tokens,
                    model=model,
                    finish_reason=reason,
                    stats=stats,
                )
            self._broadcast(channel, _final(seq, content, model, reason, stats))
        except Exception as err:
            log.error("could not store the reply in chat session %s: %s", row.id, err)
            self._broadcast(channel, {"type": "error", "detail": "the reply could not be stored"})
        finally:
            channel.live = []
            channel.busy = False
            channel.task = None

    def _broadcast(self, channel: _Channel, frame: Frame) -> None:
        for queue in channel.subscribers:
            queue.put_nowait(frame)

    async def close(self) -> None:
        tasks = [c.task for c in self._channels.values() if c.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
