"""Container health checks for the deployment files (deploy/compose.yaml, deploy/k8s/).

Copied into the image as /opt/agency/healthcheck.py (deploy/Dockerfile) and run by the
container runtime, never imported by the application. Exit 0 when healthy, 1 otherwise,
with the reason on stdout (Docker keeps it in `docker inspect`'s health log).

    python /opt/agency/healthcheck.py api        GET /health answers (200, or 503: serving
                                                 but a dependency is down)
    python /opt/agency/healthcheck.py worker     Temporal lists this container's process
                                                 polling the workflow task queue
    python /opt/agency/healthcheck.py executor   bubblewrap can build the sandbox the
                                                 executor uses, and Temporal lists this
                                                 container's process polling the shared
                                                 executor queue
    python /opt/agency/healthcheck.py process    the main process (pid 1) is running: not
                                                 stopped (SIGSTOP), not a zombie

Workers and executors serve no HTTP: what Temporal reports about their polls is the only
outside view of them (as `agency up` and GET /health use it, api/pollers.py). Pollers are
told apart by their Temporal identity, `<pid>@<host name> <role>`
(agency/temporal_client.py): in a container the main process is pid 1 and the host name
is the container's (the pod's in Kubernetes), so this container's own poller is
`1@<host name> …`. Temporal keeps listing a poller for a while after its process died, so
the poller checks can say healthy for up to two minutes after a restart in place; the
process check is the liveness check (it does not depend on Temporal being up).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

TIMEOUT_S = 8.0
MAIN_PID = 1


def own_poller(identities: list[str], pid: int, host: str) -> bool:
    """Whether one of the poller identities is the process `pid` of this host."""
    base = f"{pid}@{host}"
    return any(ident == base or ident.startswith(f"{base} ") for ident in identities)


def process_state(stat_text: str) -> str:
    """The state letter of a /proc/<pid>/stat line (after the parenthesised command)."""
    return stat_text.rpartition(")")[2].split()[0]


def check_process(pid: int = MAIN_PID, proc: Path = Path("/proc")) -> str | None:
    try:
        state = process_state((proc / str(pid) / "stat").read_text())
    except (OSError, IndexError) as err:
        return f"pid {pid}: {err}"
    if state in {"T", "t"}:
        return f"pid {pid} is stopped"
    if state in {"Z", "X"}:
        return f"pid {pid} is dead"
    return None


def check_api() -> str | None:
    import httpx

    from agency.settings import Settings

    settings = Settings()
    host = "127.0.0.1" if settings.api_host in {"0.0.0.0", "::", ""} else settings.api_host
    url = f"http://{host}:{settings.api_port}/health"
    try:
        response = httpx.get(url, timeout=TIMEOUT_S)
    except httpx.HTTPError as err:
        return f"GET {url}: {type(err).__name__}"
    if response.status_code == 503:
        # The API serves; what is down is in the body (and fails its own component).
        print(f"serving, degraded: {response.text[:500]}")
        return None
    if response.status_code != 200:
        return f"GET {url}: {response.status_code}"
    return None


async def _pollers(queue: str, kind: str) -> list[str]:
    from temporalio.contrib.pydantic import pydantic_data_converter

    from agency.settings import Settings
    from agency.temporal_client import connect
    from api.pollers import pollers

    settings = Settings()
    client = await connect(settings, "healthcheck", converter=pydantic_data_converter)
    name = settings.task_queue if queue == "tasks" else settings.executor_task_queue
    found = await pollers(client, name, kind)
    return [p.identity for p in found if p.active]


def check_poller(queue: str, kind: str) -> str | None:
    try:
        identities = asyncio.run(asyncio.wait_for(_pollers(queue, kind), TIMEOUT_S))
    except Exception as err:  # Temporal down, settings wrong: unhealthy, with the reason
        return f"cannot ask Temporal: {type(err).__name__}: {err}"[:500]
    host = socket.gethostname()
    if own_poller(identities, MAIN_PID, host):
        return None
    return f"no poller {MAIN_PID}@{host} on the {kind} queue"


def check_sandbox() -> str | None:
    """Run `true` in the sandbox the executor builds (agency/executor/sandbox.py): a
    container without user namespaces, or with /proc masked, fails here instead of at
    the first task."""
    from agency.executor.sandbox import Sandbox
    from agency.settings import Settings

    sandbox = Sandbox.detect(allow_unsandboxed=Settings().allow_unsandboxed)
    if sandbox.bwrap is None:
        return sandbox.problem  # None when running unsandboxed was allowed
    with tempfile.TemporaryDirectory(prefix="agency-health-") as tmp:
        argv = sandbox.wrap(["true"], Path(tmp), network=False)
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"bubblewrap: {err}"
    if done.returncode != 0:
        return f"bubblewrap cannot build the sandbox: {done.stderr.strip()[:300]}"
    return None


CHECKS: dict[str, list[Callable[[], str | None]]] = {
    "api": [check_api],
    "worker": [lambda: check_poller("tasks", "workflow")],
    "executor": [check_sandbox, lambda: check_poller("executors", "activity")],
    "process": [check_process],
}


def main(argv: list[str]) -> int:
    what = argv[1] if len(argv) > 1 else ""
    if what not in CHECKS:
        print(f"usage: healthcheck.py {{{','.join(CHECKS)}}}")
        return 2
    for check in CHECKS[what]:
        if problem := check():
            print(problem)
            return 1
    print("ok")
    return 0


if __name__ == "__main__":
    status = main(sys.argv)
    sys.stdout.flush()
    # Without interpreter finalisation: the Temporal client's runtime threads can abort
    # it (a check that passed would then exit non-zero).
    os._exit(status)
