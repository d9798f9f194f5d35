"""`agency logs ID [--follow]`: a task's events; with --follow, live from the task's SSE
stream until the task ends, reconnecting with Last-Event-ID after a dropped connection
(no event is printed twice or skipped)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import typer

from agency.cli.client import API, default_client, path_segment, problem_error, resolve_api_key
from agency.cli.errors import EXIT_FAILURE, CliError, handles_errors
from agency.cli.output import note
from agency.settings import Settings

PAGE = 1000
# Longer than the server's 15 s keep-alive pings: a silent connection is a dead one.
READ_TIMEOUT_S = 45.0
RECONNECT_DELAY_S = 1.0
MAX_RECONNECT_DELAY_S = 5.0
# Give up when the API has been unreachable this long in a row.
GIVE_UP_AFTER_S = 120.0


@dataclass
class SseEvent:
    id: str | None = None
    event: str = "message"
    data: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.data)


def parse_sse(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Events of a text/event-stream, as the HTML standard defines the format."""
    current = SseEvent()
    for line in lines:
        if line == "":
            if current.data or current.event != "message":
                yield current
            current = SseEvent()
            continue
        if line.startswith(":"):
            continue  # comment (keep-alive ping)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            current.data.append(value)
        elif name == "id" and "\x00" not in value:
            current.id = value
        elif name == "event":
            current.event = value


def format_event(event: dict[str, Any]) -> str:
    at = str(event.get("at", "")).replace("T", " ")[:19]
    line = (
        f"#{event.get('seq')}  {at}  {event.get('phase')}  "
        f"{event.get('actor')}  {event.get('action')}"
    )
    data = event.get("data") or {}
    if isinstance(data, dict):
        brief = ", ".join(
            f"{k}={v}" for k, v in data.items() if k != "projection" and not isinstance(v, dict)
        )
        if brief:
            line += f"  ({brief[:160]})"
    return line


def follow_events(
    base_url: str,
    api_key: str | None,
    task_id: str,
    emit: Callable[[dict[str, Any]], None],
    *,
    after: int = 0,
    on_reconnect: Callable[[int, str], None] | None = None,
    give_up_after_s: float = GIVE_UP_AFTER_S,
) -> int:
    """Emit every event after `after` until the task ends; returns the last seq seen."""
    last = after
    headers = {"Accept": "text/event-stream"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    path = f"{API}/tasks/{path_segment(task_id)}/events"
    timeout = httpx.Timeout(10.0, read=READ_TIMEOUT_S)
    delay = RECONNECT_DELAY_S
    unreachable_since: float | None = None
    with httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout) as http:
        while True:
            try:
                with http.stream("GET", path, headers={"Last-Event-ID": str(last)}) as response:
                    if response.status_code == 204:
                        return last
                    if not response.is_success:
                        response.read()
                        raise problem_error(response)
                    unreachable_since, delay = None, RECONNECT_DELAY_S
                    for event in parse_sse(response.iter_lines()):
                        if event.event == "end":
                            return last
                        if event.event != "message" or not event.data:
                            continue
                        emit(json.loads(event.text))
                        if event.id and event.id.isdigit():
                            last = int(event.id)
                reason = "the stream closed"
            except httpx.TransportError as exc:
                reason = type(exc).__name__
            now = time.monotonic()
            unreachable_since = unreachable_since or now
            if now - unreachable_since > give_up_after_s:
                raise CliError(
                    f"lost the event stream of {task_id} and could not reconnect "
                    f"for {give_up_after_s:.0f} s (last event #{last})",
                    EXIT_FAILURE,
                )
            if on_reconnect is not None:
                on_reconnect(last, reason)
            time.sleep(delay)
            delay = min(delay * 2, MAX_RECONNECT_DELAY_S)


def _print_event(as_json: bool) -> Callable[[dict[str, Any]], None]:
    def emit(event: dict[str, Any]) -> None:
        if as_json:
            typer.echo(json.dumps(event, separators=(",", ":"), ensure_ascii=False))
        else:
            typer.echo(format_event(event))

    return emit


@handles_errors
def logs(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing events until the task ends.")
    ] = False,
    after: Annotated[
        int, typer.Option("--after", min=0, help="Only events after this sequence number.")
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """A task's events (transitions, verdicts, interventions), oldest first."""
    emit = _print_event(as_json)
    if follow:
        settings = Settings()
        follow_events(
            settings.api_url,
            resolve_api_key(settings),
            task_id,
            emit,
            after=after,
            on_reconnect=lambda seq, why: note(f"({why}; resuming after event #{seq})"),
        )
        return
    with default_client() as client:
        while True:
            page = client.request(
                "GET",
                f"{API}/tasks/{path_segment(task_id)}/events",
                params={"after": after, "limit": PAGE},
            )
            items = page.get("items", [])
            for event in items:
                emit(event)
                after = int(event["seq"])
            if len(items) < PAGE:
                return
