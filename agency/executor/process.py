"""One command run in its own process group: timeout, suspend/resume, kill, bounded output.

The group is the unit of control. The command is started as a session (and so group)
leader; everything it spawns stays in that group unless it deliberately leaves, so
SIGSTOP/SIGCONT/SIGKILL to the group reach all of it. Exit is observed through a pidfd
without reaping the leader: while the leader is an unreaped zombie its pid (the group
id) cannot be reused, so the final SIGKILL to the group can never hit a stranger.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from agency.executor.schemas import ProcessResult

# How long to wait for killed group members to disappear before giving up on them.
_REAP_GRACE_S = 5.0


def read_tail(path: Path, cap_bytes: int) -> tuple[str, bool]:
    """The last `cap_bytes` of a file as text, and whether anything before them was cut."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "", False
    with path.open("rb") as f:
        if size > cap_bytes:
            f.seek(size - cap_bytes)
        data = f.read(cap_bytes)
    return data.decode("utf-8", errors="replace"), size > cap_bytes


def _live_group_members(pgid: int) -> list[int]:
    """Pids of processes in group `pgid` that are not zombies (Linux /proc)."""
    members: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may contain spaces and parentheses; fields follow the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry.name))
    return members


class GroupProcess:
    """Runs `argv` once; control methods may be called from the event loop at any time."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: dict[str, str],
        timeout_s: float,
        stdout_path: Path,
        stderr_path: Path | None,
        cap_bytes: int,
        display_argv: Sequence[str] | None = None,
        stdin_path: Path | None = None,
    ) -> None:
        self._argv = list(argv)
        # Standard input from a file (a model-drafted patch); otherwise /dev/null.
        self._stdin_path = stdin_path
        # What the result reports: the caller's command, not the sandbox wrapper around it.
        self._display = list(display_argv if display_argv is not None else argv)
        self._cwd = cwd
        self._env = env
        self._timeout = timeout_s
        self._stdout_path = stdout_path
        self._stderr_path = stderr_path
        self._cap = cap_bytes
        self._pgid: int | None = None
        self._suspended = False
        # Whether the spawning thread stopped the process (it was paused before it began).
        self._stopped_on_spawn = False
        self._kill_requested = False
        self._used_s = 0.0  # running (not suspended) time before the last resume
        self._resumed_at = 0.0
        self._changed = asyncio.Event()

    @property
    def suspended(self) -> bool:
        return self._suspended

    # ------------------------------------------------------------------ control
    def suspend(self) -> None:
        if self._suspended:
            return
        self._suspended = True
        if self._pgid is not None:
            self._used_s += time.monotonic() - self._resumed_at
        self._signal(signal.SIGSTOP)
        self._changed.set()

    def resume(self) -> None:
        if not self._suspended:
            return
        self._suspended = False
        self._resumed_at = time.monotonic()
        self._signal(signal.SIGCONT)
        self._changed.set()

    def kill(self) -> None:
        self._kill_requested = True
        self._signal(signal.SIGKILL)
        self._changed.set()

    def _signal(self, sig: signal.Signals) -> None:
        if self._pgid is None:
            return  # not started yet; run() applies the requested state right after spawn
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._pgid, sig)

    def _remaining_s(self) -> float:
        return self._timeout - self._used_s - (time.monotonic() - self._resumed_at)

    # ------------------------------------------------------------------ running
    async def run(self) -> ProcessResult:
        """Start, supervise until exit (or timeout/kill), reap the whole group, report."""
        if self._kill_requested:
            return ProcessResult(argv=self._display, killed=True)
        started = time.monotonic()
        self._stdout_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            popen = await self._spawn_off_loop()
        except (OSError, ValueError) as exc:
            # OSError: no such command (only reachable unsandboxed); ValueError: a NUL
            # byte or an '=' in a name of the command or its environment.
            # Reported the way a shell would rather than failing the executor.
            message = f"cannot start {self._display[0]!r}: {exc}\n"
            self._stdout_path.write_text("" if self._stderr_path else message)
            if self._stderr_path is not None:
                self._stderr_path.write_text(message)
            return await asyncio.to_thread(self._result, 127, started, timed_out=False)
        self._pgid = popen.pid
        self._resumed_at = time.monotonic()
        if self._kill_requested:
            self._signal(signal.SIGKILL)
        elif self._suspended:
            self._signal(signal.SIGSTOP)
        elif self._stopped_on_spawn:
            # Resumed while the spawning thread was stopping it: that resume found no
            # process to continue, so it is continued here.
            self._signal(signal.SIGCONT)
        timed_out = False
        exited = _exit_future(popen.pid)
        try:
            while not exited.done():
                self._changed.clear()
                budget = None if self._suspended else self._remaining_s()
                if budget is not None and budget <= 0:
                    if not timed_out:
                        timed_out = True
                        self._signal(signal.SIGKILL)
                    budget = None
                waiter = asyncio.ensure_future(self._changed.wait())
                try:
                    await asyncio.wait(
                        {exited, waiter}, timeout=budget, return_when="FIRST_COMPLETED"
                    )
                finally:
                    waiter.cancel()
        except asyncio.CancelledError:
            # The caller went away (shutdown): leave nothing running behind it.
            self._kill_requested = True
            self._signal(signal.SIGKILL)
            await asyncio.shield(exited)
            await self._reap_group(popen)
            raise
        await self._reap_group(popen)
        return await asyncio.to_thread(self._result, popen.returncode, started, timed_out=timed_out)

    async def _spawn_off_loop(self) -> subprocess.Popen[bytes]:
        """fork+exec of a large process can take tens of milliseconds: on a thread. A
        cancellation meanwhile waits for the process to exist, then kills its group, so
        nothing is left running behind the caller."""
        spawning = asyncio.ensure_future(asyncio.to_thread(self._spawn))
        try:
            return await asyncio.shield(spawning)
        except asyncio.CancelledError:
            with contextlib.suppress(OSError, ValueError):
                popen = await spawning
                self._pgid = popen.pid
                self._kill_requested = True
                self._signal(signal.SIGKILL)
                await asyncio.shield(_exit_future(popen.pid))
                await self._reap_group(popen)
            raise

    def _spawn(self) -> subprocess.Popen[bytes]:
        with contextlib.ExitStack() as files:
            out = files.enter_context(self._stdout_path.open("wb"))
            err: int | IO[bytes] = subprocess.STDOUT
            if self._stderr_path is not None:
                err = files.enter_context(self._stderr_path.open("wb"))
            stdin: int | IO[bytes] = subprocess.DEVNULL
            if self._stdin_path is not None:
                stdin = files.enter_context(self._stdin_path.open("rb"))
            # The child keeps its own copies of the descriptors; ours close on return.
            popen = subprocess.Popen(
                self._argv,
                cwd=self._cwd,
                env=self._env,
                stdin=stdin,
                stdout=out,
                stderr=err,
                start_new_session=True,
                close_fds=True,
            )
            if self._suspended:
                # Paused before it started: stopped here, on the spawning thread, the
                # moment it exists, not a turn of the event loop later (under load that
                # turn let a short agent run before the stop reached it).
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGSTOP)
                self._stopped_on_spawn = True
            return popen

    async def _reap_group(self, popen: subprocess.Popen[bytes]) -> None:
        """Kill what is left of the group, then reap the leader (freeing the group id)."""
        assert self._pgid is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._pgid, signal.SIGKILL)
        deadline = time.monotonic() + _REAP_GRACE_S
        while time.monotonic() < deadline:
            # The leader is a zombie until reaped below; anything else alive is a straggler.
            members = await asyncio.to_thread(_live_group_members, self._pgid)
            if not [p for p in members if p != popen.pid]:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pgid, signal.SIGKILL)
            await asyncio.sleep(0.02)
        popen.wait()

    def _result(self, code: int | None, started: float, *, timed_out: bool) -> ProcessResult:
        out, out_cut = read_tail(self._stdout_path, self._cap)
        err, err_cut = ("", False)
        if self._stderr_path is not None:
            err, err_cut = read_tail(self._stderr_path, self._cap)
        return ProcessResult(
            argv=self._display,
            exit_code=code,
            timed_out=timed_out,
            killed=self._kill_requested and not timed_out,
            duration_s=round(time.monotonic() - started, 3),
            stdout_tail=out,
            stderr_tail=err,
            output_truncated=out_cut or err_cut,
        )


def _exit_future(pid: int) -> asyncio.Future[None]:
    """A future that completes when `pid` exits, without reaping it."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        # Kernels without pidfd: a thread blocks in waitid(WNOWAIT) instead.
        def watch() -> None:
            with contextlib.suppress(ChildProcessError):
                os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            loop.call_soon_threadsafe(_finish, fut)

        threading.Thread(target=watch, name=f"wait-{pid}", daemon=True).start()
        return fut

    def on_readable() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        _finish(fut)

    loop.add_reader(pidfd, on_readable)
    return fut


def _finish(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
