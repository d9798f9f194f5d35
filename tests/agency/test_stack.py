"""The stack's own parts: port preflight and the embedded Temporal dev server command."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agency.settings import Settings
from agency.stack import Stack, stop_signals, temporal_executable, temporal_probe
from agency.supervisor import ChildSpec, StackError, Supervisor


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def listener() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def test_preflight_names_the_taken_port(tmp_path: Path, listener: int) -> None:
    settings = Settings(
        data_dir=tmp_path,
        # External, so that a Temporal server on the default port cannot answer first.
        temporal_address=f"127.0.0.1:{free_port()}",
        api_port=listener,
        executor_port=free_port(),
    )
    stack = Stack(settings)
    with pytest.raises(StackError, match=f"port {listener} \\(API\\) is already in use"):
        stack.start()
    # Nothing was started, and nothing was left running.
    assert stack.supervisor.children == []


def test_external_temporal_is_not_started_and_not_preflighted(
    tmp_path: Path, listener: int
) -> None:
    stack = Stack(
        Settings(
            data_dir=tmp_path,
            temporal_address=f"127.0.0.1:{listener}",
            api_port=free_port(),
            executor_port=free_port(),
        )
    )
    assert not stack.embedded_temporal
    assert stack.temporal_ui_url is None
    stack.preflight()  # the taken Temporal port is the cluster's, not a conflict


def test_embedded_temporal_dev_server_starts_from_settings_and_stops(tmp_path: Path) -> None:
    port, ui_port = free_port(), free_port()
    stack = Stack(Settings(data_dir=tmp_path, temporal_address=None, temporal_ui_port=ui_port))
    # Settings leave the embedded server on the default port; run this one on free ports.
    stack.temporal_address = f"127.0.0.1:{port}"
    argv = stack.temporal_argv()
    assert argv[0] == str(temporal_executable())
    assert str(tmp_path.resolve() / "temporal.db") in argv

    supervisor = Supervisor(tmp_path / "logs")
    try:
        supervisor.start(
            ChildSpec(
                "temporal",
                argv,
                ready=temporal_probe(stack.temporal_address, "default"),
                ready_timeout_s=90,
            )
        )
        # The web UI runs (not headless) on the configured port.
        assert httpx.get(f"{stack.temporal_ui_url}/", timeout=10).status_code == 200
        assert stack.temporal_ui_url == f"http://127.0.0.1:{ui_port}"
    finally:
        supervisor.stop(grace_s=5)
    assert (tmp_path / "temporal.db").exists()


def test_sigterm_becomes_keyboard_interrupt_inside_stop_signals() -> None:
    # `agency up` relies on this to stop its children when it is itself terminated.
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), stop_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) == before
