"""CPU time spent on behalf of a workload, which contention on a shared machine does not
inflate the way it inflates wall-clock latency: this process (workers and the bench's
client), the child processes it waited for (git, the sandbox, the agent), and other
processes by pid (the Temporal dev server)."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

from bench.procs import cpu_seconds


@dataclass(frozen=True)
class CpuTimes:
    own: float
    children: float
    others: float

    def __sub__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(
            self.own - other.own, self.children - other.children, self.others - other.others
        )

    @property
    def total(self) -> float:
        return self.own + self.children + self.others


def child_pids(command_contains: str) -> list[int]:
    """This process's direct children whose command line contains the text."""
    me = os.getpid()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me and command_contains in cmdline:
            found.append(int(entry.name))
    return found


def cpu_times(others: list[int]) -> CpuTimes:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuTimes(
        own.ru_utime + own.ru_stime,
        children.ru_utime + children.ru_stime,
        sum(cpu_seconds(pid) for pid in others),
    )
