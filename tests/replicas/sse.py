"""An SSE client on a thread of its own: a test reads a task's live stream while it acts
on the system through other connections, and asks when an event arrived."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() when the event's last line arrived
    event: str
    data: dict[str, Any]


class StreamReader:
    def __init__(self, url: str, key: str) -> None:
        self._url = url
        self._headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
        self.received: list[Received] = []
        self.status: int | None = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StreamReader:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._closed.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        timeout = httpx.Timeout(10, read=60)
        try:
            with httpx.stream("GET", self._url, headers=self._headers, timeout=timeout) as r:
                self.status = r.status_code
                event, data = "message", ""
                for line in r.iter_lines():
                    if self._closed.is_set():
                        return
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif line == "" and data:
                        with self._lock:
                            self.received.append(
                                Received(time.monotonic(), event, json.loads(data))
                            )
                        event, data = "message", ""
        except BaseException as err:  # handed to the test's thread by wait_for
            self.error = err

    def wait_for(self, action: str, within: float, after: float = 0.0) -> Received:
        """The first event whose `action` is `action`, received at or after `after`."""
        deadline = time.monotonic() + within
        while True:
            with self._lock:
                for received in self.received:
                    if received.data.get("action") == action and received.at >= after:
                        return received
            if self.error is not None:
                raise AssertionError(f"the stream failed: {self.error!r}")
            assert time.monotonic() < deadline, (
                f"no {action!r} event within {within} s; got "
                f"{[(r.event, r.data.get('action')) for r in self.received]}"
            )
            time.sleep(0.005)
