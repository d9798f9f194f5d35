"""The threads MLX work runs on: two per process, daemon, never ending.

A thread that has run MLX work must not exit before the process does: MLX's
thread-local state is torn down when such a thread ends, and a process exiting after
that can abort ("terminate called without an active exception"). A thread pool's
worker exits on shutdown, so the engine uses these instead: one thread computes, one
loads models, each shared by every engine in the process.

The compute thread runs queued calls and advances every registered token stream by one
token per round (round-robin, so concurrent generations stream side by side). It hands
each token to its consumer without waiting for it: a generation never stalls on the
event loop that reads it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from agency.inference.job import TokenStream

T = TypeVar("T")


class MlxThread:
    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]]
        self._queue = queue.SimpleQueue()
        # Only the thread itself touches this list.
        self._streams: list[TokenStream] = []
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((future, fn, args))
        return future

    def add_stream(self, stream: TokenStream) -> None:
        """Advance `stream` from the next round on (call on this thread, from submitted
        work, or from anywhere: the registration is queued)."""
        if threading.current_thread() is self._thread:
            self._streams.append(stream)
        else:
            self.submit(self._streams.append, stream)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far has run."""
        try:
            self.submit(lambda: None).result(timeout)
        except TimeoutError:
            return False
        return True

    def _run(self) -> None:
        while True:
            # Queued calls first; block for them only when no stream needs a token.
            while True:
                try:
                    future, fn, args = self._queue.get(block=not self._streams)
                except queue.Empty:
                    break
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn(*args))
                    except BaseException as err:
                        future.set_exception(err)
            for stream in list(self._streams):
                if stream.advance():
                    self._streams.remove(stream)


_threads: dict[str, MlxThread] = {}
_lock = threading.Lock()


def mlx_thread(role: str) -> MlxThread:
    """The process's thread for `role` ("compute" or "load"), started on first use."""
    with _lock:
        thread = _threads.get(role)
        if thread is None:
            thread = _threads[role] = MlxThread(f"agency-mlx-{role}")
        return thread
