"""The threads MLX work runs on: two per process, daemon, never ending.

A thread that has run MLX work must not exit before the process does: MLX's
thread-local state is torn down when such a thread ends, and a process exiting after
that can abort ("terminate called without an active exception"). A thread pool's
worker exits on shutdown, so the engine uses these instead: one thread computes (all
generation, interleaved a token at a time in FIFO order), one loads models, each
shared by every engine in the process.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class MlxThread:
    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]]
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((future, fn, args))
        return future

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far has run."""
        try:
            self.submit(lambda: None).result(timeout)
        except TimeoutError:
            return False
        return True

    def _run(self) -> None:
        while True:
            future, fn, args = self._queue.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as err:
                future.set_exception(err)


_threads: dict[str, MlxThread] = {}
_lock = threading.Lock()


def mlx_thread(role: str) -> MlxThread:
    """The process's thread for `role` ("compute" or "load"), started on first use."""
    with _lock:
        thread = _threads.get(role)
        if thread is None:
            thread = _threads[role] = MlxThread(f"agency-mlx-{role}")
        return thread
