"""Resident memory of a process, as the kernel counts it (VmRSS in /proc/<pid>/status)."""

from __future__ import annotations

from pathlib import Path


def rss_bytes(pid: int) -> int:
    """VmRSS of `pid` in bytes (Linux); raises when the process or the line is missing."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            # "VmRSS:     123456 kB": the kernel's kB are KiB.
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid} (a kernel thread, or not Linux)")


def mib(n: float) -> str:
    return f"{n / 2**20:.1f}"
