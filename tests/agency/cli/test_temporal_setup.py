"""`agency temporal setup`, run as a process against real dev servers: one started without
the search attributes (as a cluster is), one where a name is taken by another type, and an
address where nothing listens. Also what happens to a task started before the setup."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from agency.asgi_thread import free_port
from agency.task_start import start_task_workflow
from council.validation import parse_task_spec
from domain import search_attributes as sa
from domain.task import TaskInput
from tests.support.harness import TEMPORAL_BIN, harness
from tests.support.repos import task_spec

AGENCY = Path(sys.executable).parent / "agency"
RUN_WITHIN_S = 60.0


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


async def agency_setup(address: str, tmp_path: Path) -> Run:
    env = {**os.environ, "AGENCY_DATA_DIR": str(tmp_path / "data"), "NO_COLOR": "1"}
    env.pop("AGENCY_TEMPORAL_ADDRESS", None)
    proc = await asyncio.create_subprocess_exec(
        str(AGENCY),
        "temporal",
        "setup",
        "--address",
        address,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), RUN_WITHIN_S)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


async def start_server(*attributes: SearchAttributeKey[Any]) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_BIN),
        data_converter=pydantic_data_converter,
        ui=False,
        search_attributes=attributes,
    )


@pytest.fixture
async def bare_server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server without our search attributes."""
    env = await start_server()
    try:
        yield env
    finally:
        await env.shutdown()


def address_of(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def registered(env: WorkflowEnvironment) -> dict[str, int]:
    listed = await env.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=env.client.namespace)
    )
    return dict(listed.custom_attributes)


def task_input(tmp_path: Path) -> TaskInput:
    spec = parse_task_spec(task_spec(tmp_path / "repo"))
    return TaskInput(task_id=str(uuid.uuid4()), spec=spec)


async def test_setup_registers_the_attributes_once_and_tasks_carry_them(
    bare_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with harness(bare_server.client, tmp_path) as h:
        # Before: a task starts without the attributes, with its summary, and runs to
        # the end (the workflow upserts nothing the namespace does not know).
        before = await h.start()
        assert (await before.result()).phase == "completed"
        described = await before.describe()
        assert described.typed_search_attributes.get(sa.PHASE) is None
        assert (await described.static_summary() or "").endswith(before.id.removeprefix("task-"))

    first = await agency_setup(address_of(bare_server), tmp_path)
    assert first.code == 0, first.stderr
    names = [key.name for key in sa.ALL]
    assert all(name in first.stdout for name in names), first.stdout
    assert "registered" in first.stdout
    have = await registered(bare_server)
    assert {key.name: int(key.indexed_value_type) for key in sa.ALL}.items() <= have.items()

    again = await agency_setup(address_of(bare_server), tmp_path)
    assert again.code == 0, again.stderr
    assert "nothing to do" in again.stdout
    assert await registered(bare_server) == have

    # After: a task starts with them (nobody polls its queue: only the start matters).
    after = await start_task_workflow(
        bare_server.client, task_input(tmp_path), task_queue="nobody-polls"
    )
    shown = (await after.describe()).typed_search_attributes
    assert shown.get(sa.PHASE) == "queued" and shown.get(sa.AWAITING_APPROVAL) is False
    await after.terminate("test over")


async def test_a_name_taken_by_another_type_exits_2_and_says_which(tmp_path: Path) -> None:
    env = await start_server(SearchAttributeKey.for_keyword(sa.RISK_TIER.name))
    try:
        run = await agency_setup(address_of(env), tmp_path)
    finally:
        await env.shutdown()
    assert run.code == 2
    assert "AgencyRiskTier is registered as Keyword, not Int" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


async def test_an_unreachable_server_exits_2_with_a_readable_message(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    run = await agency_setup(address, tmp_path)
    assert run.code == 2
    assert f"could not register the search attributes at {address}" in run.stderr
    assert "Connection refused" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
