"""One executor process per executor directory, enforced with an advisory file lock.

The executor removes whatever worktrees it finds at start (they belonged to a process
that died); two processes sharing a directory would remove each other's work.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class DirectoryInUse(RuntimeError):
    pass


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Hold `lock_file` for the block; raise DirectoryInUse when another process holds it.
    The kernel drops the lock when the process dies, however it dies."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DirectoryInUse(
                f"another executor is using {lock_file.parent}; give this one its own "
                "AGENCY_EXECUTOR_NAME (or AGENCY_DATA_DIR)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)
