"""ExecutorClient errors: status, detail and whether a retry can help."""

from __future__ import annotations

import pytest

from agency.executor.client import ExecutorClient, ExecutorError
from tests.agency.executor.conftest import RunningExecutor, free_port


async def test_an_unreachable_executor_is_a_retryable_error() -> None:
    async with ExecutorClient(f"http://127.0.0.1:{free_port()}", timeout=2) as client:
        with pytest.raises(ExecutorError) as err:
            await client.health()
    assert err.value.status == 0 and err.value.retryable
    assert "cannot reach" in err.value.detail


async def test_4xx_is_not_retryable_and_carries_the_problem_detail(
    executor: RunningExecutor,
) -> None:
    async with ExecutorClient(executor.url) as client:
        with pytest.raises(ExecutorError) as err:
            await client.control("missing-run", "resume")
        assert err.value.status == 404 and not err.value.retryable
        assert err.value.detail == "no run 'missing-run'"
        assert err.value.type == "urn:agency:executor:not-found"
        with pytest.raises(ExecutorError) as err:
            await client.artifact("missing-run")
        assert err.value.status == 404


def test_5xx_is_retryable() -> None:
    assert ExecutorError(503, "no sandbox").retryable
    assert ExecutorError(500, "boom").retryable
    assert not ExecutorError(409, "conflict").retryable
