"""The embedded stack (`agency up`, SQLite) under faults: its supervisor restarts what dies,
and a stack killed whole resumes every open task when `agency up` runs again.

Each child of `agency up` (the executor, the worker, the API, the Temporal dev server)
is killed with SIGKILL while two tasks' agents run; the supervisor starts it again by
itself, and both tasks must end as they would have: completed, applied exactly once,
provenance verified, audit gapless. Then every process of the stack, `agency up`
included, is killed at once mid-agent, and a new `agency up` on the same data dir must
finish the tasks (Temporal's state is in its file under the data dir).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.agency_up import AgencyUp
from tests.faults.deployment import wait_until
from tests.faults.tasks import Tasks, agent_running

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

AGENT_SECONDS = 5.0
LONG_AGENT_SECONDS = 15.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgencyUp]:
    up = AgencyUp(tmp_path_factory.mktemp("agency-up"))
    try:
        up.start()
        yield up
    finally:
        up.stop()


@pytest.fixture
def tasks(stack: AgencyUp, tmp_path: Path) -> Iterator[Tasks]:
    client = Tasks(stack.api_url, stack.admin_key(), tmp_path)
    try:
        yield client
    finally:
        client.close()


def agents_running(stack: AgencyUp, count: int) -> bool:
    return any(agent_running(d, count) for d in (stack.data_dir / "executors").glob("*"))


@pytest.mark.parametrize("child", ["executor", "worker", "api", "temporal"])
def test_a_killed_child_is_restarted_and_the_tasks_complete(
    stack: AgencyUp, tasks: Tasks, child: str
) -> None:
    in_flight = [tasks.submit(AGENT_SECONDS), tasks.submit(AGENT_SECONDS)]
    wait_until(lambda: agents_running(stack, 2), 60, "two agents running")
    before = stack.part(child)
    others = {p.name: p.pid for p in stack.state().parts if p.name != child}

    os.kill(before.pid, signal.SIGKILL)

    wait_until(
        lambda: (
            stack.part(child).restarts == before.restarts + 1 and stack.part(child).state == "up"
        ),
        90,
        f"the supervisor to restart {child}",
    )
    after = stack.part(child)
    assert after.pid != before.pid and after.last_exit == "killed by signal 9"
    # Nothing else was torn down.
    assert {p.name: p.pid for p in stack.state().parts if p.name != child} == others
    for submitted in in_flight:
        audit = tasks.check_outcome(submitted)
        if child == "executor":
            assert any(e["action"] == "host_lost" for e in audit), audit


def test_the_whole_stack_killed_resumes_every_open_task_on_the_next_agency_up(
    stack: AgencyUp, tasks: Tasks
) -> None:
    # Agents long enough that a slow machine still kills them mid-run (the checks below
    # need the host to die while they run).
    in_flight = [tasks.submit(LONG_AGENT_SECONDS), tasks.submit(LONG_AGENT_SECONDS)]
    wait_until(lambda: agents_running(stack, 2), 60, "two agents running")

    stack.kill_everything()
    stack.start()

    for submitted in in_flight:
        audit = tasks.check_outcome(submitted)
        # The executor died with the stack: each run started again on the new host.
        assert any(e["action"] == "host_lost" for e in audit), json.dumps(audit)[:2000]
