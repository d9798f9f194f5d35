"""`agency chat`: a terminal client for the API's chat sessions (WebSocket).

    agency chat                         a new session, interactive (Ctrl-D ends)
    agency chat "a question"            one question, the streamed answer, exit
    agency chat --session ID ...        continue a session (its history is kept)

Tokens are printed as they arrive. If the connection drops during a reply, the client
reconnects with the last sequence number it saw and receives only what it missed.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from agency.cli.client import API, cli_actor, default_client, path_segment, resolve_api_key
from agency.cli.errors import EXIT_FAILURE, CliError, handles_errors
from agency.cli.output import note
from agency.settings import Settings

RECONNECTS = 3
REPLY_TIMEOUT_S = 600.0


class ChatConnection:
    """One session's WebSocket, reconnecting after the last frame seen."""

    def __init__(self, settings: Settings, session_id: str) -> None:
        base = settings.api_url.rstrip("/")
        scheme = "wss" if base.startswith("https://") else "ws"
        self._url = f"{scheme}://{base.split('://', 1)[1]}{API}/chat/ws/{path_segment(session_id)}"
        self._headers = {"X-Agency-Actor": cli_actor()}
        if key := resolve_api_key(settings):
            self._headers["Authorization"] = f"Bearer {key}"
        self.last_seq = 0
        self._ws: Any = None

    def connect(self, after: int | None = None) -> list[dict[str, Any]]:
        """Open the socket; print and return the frames it replays before "ready"."""
        from websockets.exceptions import InvalidHandshake, InvalidURI
        from websockets.sync.client import connect

        query = f"?after={self.last_seq if after is None else after}"
        self.close()
        try:
            self._ws = connect(self._url + query, additional_headers=self._headers).__enter__()
        except (OSError, InvalidHandshake, InvalidURI) as err:
            raise CliError(
                f"cannot open the chat WebSocket at {self._url}: {err}",
                EXIT_FAILURE,
                hint="Start the stack with `agency up`, or point AGENCY_API_URL at a running API.",
            ) from None
        # Frames up to "ready" are the session's history (or what we missed).
        replayed = []
        while True:
            frame = self._recv(REPLY_TIMEOUT_S)
            if frame.get("type") == "ready":
                return replayed
            self._show(frame, history=True)
            replayed.append(frame)

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    def ask(self, content: str) -> str:
        """Send one message; print the reply as it streams; return its text."""
        from websockets.exceptions import ConnectionClosed

        self._send({"role": "user", "content": content})
        for _ in range(RECONNECTS + 1):
            try:
                while True:
                    frame = self._recv(REPLY_TIMEOUT_S)
                    self._show(frame)
                    if frame.get("type") == "final":
                        return str(frame.get("content", ""))
                    if frame.get("type") == "error" and "seq" not in frame:
                        raise CliError(str(frame.get("detail")), EXIT_FAILURE)
            except ConnectionClosed:
                note(f"(connection lost; resuming after frame {self.last_seq})")
                finals = [f for f in self.connect() if f.get("type") == "final"]
                if finals:  # the reply ended while we were away
                    return str(finals[-1].get("content", ""))
        raise CliError("the chat connection kept dropping", EXIT_FAILURE)

    def _send(self, frame: dict[str, Any]) -> None:
        self._ws.send(json.dumps(frame))

    def _recv(self, timeout: float) -> dict[str, Any]:
        frame = json.loads(self._ws.recv(timeout=timeout))
        if isinstance(frame.get("seq"), int):
            self.last_seq = max(self.last_seq, frame["seq"])
        return frame

    def _show(self, frame: dict[str, Any], history: bool = False) -> None:
        kind = frame.get("type")
        if kind == "token":
            sys.stdout.write(frame.get("text", ""))
            sys.stdout.flush()
        elif kind == "final":
            reason = frame.get("finish_reason")
            sys.stdout.write("\n")
            sys.stdout.flush()
            if reason not in ("stop", None):
                note(f"({reason}{': ' + frame['error'] if frame.get('error') else ''})")
        elif kind == "message" and history:
            sys.stdout.write(f"> {frame.get('content', '')}\n")
        elif kind == "error":
            note(f"error: {frame.get('detail')}")


@handles_errors
def chat(
    message: Annotated[
        list[str] | None, typer.Argument(help="Ask this and exit (default: interactive).")
    ] = None,
    session: Annotated[
        str | None, typer.Option("--session", help="Continue this session (id).")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Model for a new session (default: current).")
    ] = None,
    history: Annotated[
        bool, typer.Option("--history/--no-history", help="Show the session's history first.")
    ] = True,
) -> None:
    """Chat with the model through the API (a persisted session, streamed over a WebSocket)."""
    settings = Settings()
    if session is None:
        with default_client() as client:
            created = client.request("POST", f"{API}/chat/session", json={"model": model})
        session = str(created["id"])
        note(f"session {session}")
    connection = ChatConnection(settings, session)
    if not history:
        with default_client() as client:
            found = client.request("GET", f"{API}/chat/session/{path_segment(session)}")
        connection.last_seq = int(found.get("last_seq") or 0)
    connection.connect()
    try:
        if message:
            connection.ask(" ".join(message))
            return
        while True:
            try:
                line = input("> " if sys.stdin.isatty() else "")
            except EOFError:
                break
            if line.strip():
                connection.ask(line)
    finally:
        connection.close()
