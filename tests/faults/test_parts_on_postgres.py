"""Each part killed with SIGKILL while tasks are in flight, every part its own process
against PostgreSQL: the tasks end exactly as they would have without the kill.

For each part (the worker, the executor, the API, the Temporal dev server, PostgreSQL)
and for the whole deployment at once, two moments: mid-agent (two tasks' agents
running) and mid-apply (one task holding its branch update in the git shim while
another one's agent runs). The killed part is started again at once, the way a service
manager restarts it. Then every task must complete, its change be on its branch exactly
once, its provenance verify, its audit be gapless, and where the run's host died, the
audit must show the second attempt and why the first ended.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.deployment import Deployment, wait_until
from tests.faults.tasks import Submitted, Tasks, agent_running
from tests.support.private_postgres import private_postgres

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

PARTS = ["worker", "executor", "api", "temporal", "postgres"]
EVERYTHING = ["api", "worker", "executor", "temporal", "postgres"]
AGENT_SECONDS = 5.0


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with private_postgres() as postgres:
        deployed = Deployment(tmp_path_factory.mktemp("faults"), postgres)
        try:
            deployed.up()
            yield deployed
        finally:
            deployed.down()


@pytest.fixture
def tasks(deployment: Deployment, tmp_path: Path) -> Iterator[Tasks]:
    client = Tasks(deployment.api_url, deployment.admin_key, tmp_path)
    try:
        yield client
    finally:
        client.close()


def executor_dir(deployment: Deployment) -> Path:
    return deployment.data_dir / "executors" / "faults-host"


def kill_and_restart(deployment: Deployment, names: list[str]) -> None:
    for name in names:
        deployment.kill(name)
    # Started again in dependency order, as a service manager would.
    for name in ("postgres", "temporal", "executor", "worker", "api"):
        if name in names:
            deployment.restart(name)


def assert_host_loss_visible(audit: list[dict]) -> None:
    """The run started again elsewhere: two attempts, the first ended by a lost host."""
    lost = [e for e in audit if e["action"] == "host_lost"]
    attempts = [e["detail"]["attempt"] for e in audit if e["action"] == "execute"]
    assert lost and lost[0]["detail"]["why"], audit
    assert attempts == list(range(1, len(attempts) + 1)) and len(attempts) >= 2, attempts


@pytest.mark.parametrize("killed", [*PARTS, "everything"])
def test_killed_mid_agent(deployment: Deployment, tasks: Tasks, killed: str) -> None:
    names = EVERYTHING if killed == "everything" else [killed]
    in_flight = [tasks.submit(AGENT_SECONDS), tasks.submit(AGENT_SECONDS)]
    wait_until(lambda: agent_running(executor_dir(deployment), 2), 60, "two agents running")

    kill_and_restart(deployment, names)

    for submitted in in_flight:
        audit = tasks.check_outcome(submitted)
        if "executor" in names:
            assert_host_loss_visible(audit)
    deployment.wait_healthy()


@pytest.mark.parametrize("killed", [*PARTS, "everything"])
def test_killed_mid_apply(deployment: Deployment, tasks: Tasks, killed: str) -> None:
    names = EVERYTHING if killed == "everything" else [killed]
    with deployment.slow_applies():
        seen = deployment.applies_seen()
        applying = tasks.submit(0.3, gate=False)
        running: Submitted = tasks.submit(AGENT_SECONDS)
        wait_until(lambda: deployment.applies_seen() > seen, 60, "an apply in progress")

        kill_and_restart(deployment, names)

    for submitted in (applying, running):
        audit = tasks.check_outcome(submitted)
        applied = [e for e in audit if e["action"] == "applied"]
        assert len(applied) == 1, applied
    deployment.wait_healthy()


@pytest.mark.parametrize("frozen", ["executor", "worker"])
def test_frozen_beyond_the_heartbeat_timeout(
    deployment: Deployment, tasks: Tasks, frozen: str
) -> None:
    """SIGSTOP, not SIGKILL: the process is there but silent. A silent executor loses its
    runs (they start again once it or another host answers a claim); a silent worker
    only delays the tasks. Either way, when it wakes, nothing happens twice."""
    in_flight = [tasks.submit(AGENT_SECONDS), tasks.submit(AGENT_SECONDS)]
    wait_until(lambda: agent_running(executor_dir(deployment), 2), 60, "two agents running")
    with deployment.frozen(frozen):
        if frozen == "executor":
            # Held until the workflows have declared the host lost.
            wait_until(
                lambda: all(
                    any(e["action"] == "host_lost" for e in tasks.audit(t.task_id))
                    for t in in_flight
                ),
                60,
                "the frozen host to be declared lost",
            )
        else:
            # Held past every heartbeat and workflow-task timeout there is.
            _hold(12.0)
    for submitted in in_flight:
        audit = tasks.check_outcome(submitted)
        if frozen == "executor":
            assert_host_loss_visible(audit)
    deployment.wait_healthy()


def _hold(seconds: float) -> None:
    """A fault that lasts `seconds` (the length of the outage is the case, not a wait for
    something to happen)."""
    time.sleep(seconds)
