"""A private PostgreSQL server for tests that stop and start their database.

The machine's shared server (127.0.0.1:5432) must never be stopped by a test: other
tests use it at the same time. This one is made with initdb in a temporary directory,
listens on a free loopback port, and is controlled with pg_ctl. PostgreSQL refuses to
run as root, so as root it runs as the `postgres` system user (runuser).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agency.asgi_thread import free_port

SERVICE_USER = "postgres"
TIMEOUT_S = 60


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    return Path(on_path).parent


@dataclass
class PrivatePostgres:
    data_dir: Path
    port: int
    bin_dir: Path

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=TIMEOUT_S)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data_dir} "
            "-c fsync=off -c shared_buffers=16MB"
        )
        self._run(
            "pg_ctl", "-D", str(self.data_dir / "db"), "-o", options,
            "-l", str(self.data_dir / "server.log"), "-w", "-t", str(TIMEOUT_S), "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir / "db"), "-m", "fast", "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb a fresh cluster in a temporary directory, start it, stop and remove it after."""
    root = Path(tempfile.mkdtemp(prefix="agency-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, SERVICE_USER, SERVICE_USER)
    server = PrivatePostgres(data_dir=root, port=free_port(), bin_dir=_bin_dir())
    try:
        server._run(
            "initdb", "-D", str(root / "db"), "-U", "postgres", "--auth=trust",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
                server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
