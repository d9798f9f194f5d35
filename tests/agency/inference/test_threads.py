from __future__ import annotations

import threading

import pytest

from agency.inference.threads import MlxThread, mlx_thread


def test_work_runs_in_order_on_one_long_lived_thread() -> None:
    thread = MlxThread("test")
    seen: list[tuple[int, str]] = []
    futures = [
        thread.submit(lambda i=i: seen.append((i, threading.current_thread().name)))
        for i in range(5)
    ]
    assert thread.drain(10)
    assert [i for i, _ in seen] == [0, 1, 2, 3, 4]
    assert {name for _, name in seen} == {"test"}
    assert all(f.done() for f in futures)


def test_errors_reach_the_caller_and_the_thread_goes_on() -> None:
    thread = MlxThread("test-errors")
    with pytest.raises(ZeroDivisionError):
        thread.submit(lambda: 1 / 0).result(10)
    assert thread.submit(lambda: 2 + 2).result(10) == 4


def test_each_role_has_one_thread_per_process() -> None:
    assert mlx_thread("compute") is mlx_thread("compute")
    assert mlx_thread("compute") is not mlx_thread("load")
