"""GroupProcess on its own (no sandbox): bounded output, timeouts, suspension, kill."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

from agency.executor.process import GroupProcess
from tests.agency.executor.conftest import sh, sleepers, until


def group(tmp_path: Path, argv: list[str], timeout_s: float = 10, cap: int = 1024) -> GroupProcess:
    return GroupProcess(
        argv,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        timeout_s=timeout_s,
        stdout_path=tmp_path / "logs" / "out",
        stderr_path=tmp_path / "logs" / "err",
        cap_bytes=cap,
    )


async def test_output_is_kept_in_files_and_reported_as_bounded_tails(tmp_path: Path) -> None:
    script = "i=0; while [ $i -lt 500 ]; do echo line-$i; i=$((i+1)); done; echo oops >&2; exit 4"
    result = await group(tmp_path, sh(script), cap=1024).run()
    assert result.exit_code == 4 and not result.timed_out and not result.killed
    assert result.output_truncated
    assert len(result.stdout_tail.encode()) <= 1024
    assert result.stdout_tail.endswith("line-499\n")
    assert result.stderr_tail == "oops\n"
    full = (tmp_path / "logs" / "out").read_text().splitlines()
    assert full[0] == "line-0" and len(full) == 500


async def test_a_missing_command_reports_127(tmp_path: Path) -> None:
    result = await group(tmp_path, ["definitely-not-a-command-here"]).run()
    assert result.exit_code == 127 and "cannot start" in result.stderr_tail


async def test_timeout_kills_stragglers_in_the_group(tmp_path: Path) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.125"
    result = await group(tmp_path, sh(f"(sleep {marker} &); sleep {marker}"), timeout_s=0.5).run()
    assert result.timed_out and result.exit_code == -9
    assert sleepers(marker) == []


async def test_stragglers_are_killed_after_a_normal_exit_too(tmp_path: Path) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.375"
    result = await group(tmp_path, sh(f"(sleep {marker} &); echo done")).run()
    assert result.exit_code == 0 and result.stdout_tail == "done\n"
    assert sleepers(marker) == []


async def test_suspended_time_does_not_count_against_the_timeout(tmp_path: Path) -> None:
    # About 0.3 s of work in small steps (a stopped loop makes no progress), budget 0.6 s,
    # stopped for 0.8 s in the middle: only a clock that pauses lets it finish.
    work = sh("i=0; while [ $i -lt 6 ]; do sleep 0.05; i=$((i+1)); done; echo finished")
    proc = group(tmp_path, work, timeout_s=0.6)
    task = asyncio.create_task(proc.run())
    await asyncio.sleep(0.1)
    proc.suspend()
    await asyncio.sleep(0.8)
    assert not task.done()
    proc.resume()
    result = await task
    assert not result.timed_out and result.exit_code == 0
    assert result.stdout_tail == "finished\n"
    assert result.duration_s > 0.8


async def test_kill_ends_the_group_and_is_reported(tmp_path: Path) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.625"
    proc = group(tmp_path, sh(f"sleep {marker} & sleep {marker}"))
    task = asyncio.create_task(proc.run())
    await until(lambda: len(sleepers(marker)) == 2, what="sleepers")
    started = time.monotonic()
    proc.kill()
    result = await task
    assert result.killed and not result.timed_out
    assert time.monotonic() - started < 5
    assert sleepers(marker) == []


async def test_cancelling_the_caller_leaves_nothing_running(tmp_path: Path) -> None:
    marker = f"{uuid.uuid4().int % 10**6}.875"
    task = asyncio.create_task(group(tmp_path, ["sleep", marker]).run())
    await until(lambda: len(sleepers(marker)) == 1, what="sleeper")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert sleepers(marker) == []
