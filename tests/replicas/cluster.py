"""Two of each part as real processes against one Temporal and one PostgreSQL database.

The shape of a deployment that has outgrown one machine, on loopback: a Temporal dev
server, two API processes (each on its own port, as behind a load balancer), two
workflow workers and two executor hosts (each executor its own name and queue), all
against one fresh database on the test server (tests/support/postgres.py). The parts
are tests/faults/deployment.Part: started and stopped as a service manager would.

Tight limits (`viewer_quota` requests per minute for viewer keys) let a test spend a
key's whole budget in a few requests; operator and admin keys are all but unlimited so
the test's own polling never meets them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agency import dev_server
from agency.admin_key import ensure_admin_key
from agency.asgi_thread import free_port
from agency.db.migrate import upgrade_database
from agency.settings import Settings
from tests.faults.deployment import (
    PROJECT_ROOT,
    READY_TIMEOUT_S,
    TEMPORAL_BIN,
    Part,
    _port_open,
    wait_until,
)

REPLICAS = ("a", "b")


@dataclass
class Cluster:
    root: Path
    database_url: str
    viewer_quota: int = 8
    temporal_port: int = field(default_factory=free_port)
    api_ports: dict[str, int] = field(
        default_factory=lambda: {name: free_port() for name in REPLICAS}
    )
    parts: dict[str, Part] = field(default_factory=dict)
    admin_key: str = ""

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def api_url(self, replica: str) -> str:
        return f"http://127.0.0.1:{self.api_ports[replica]}"

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            temporal_address=f"127.0.0.1:{self.temporal_port}",
        )

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENCY_")}
        env.update(
            {
                # One data directory: the provenance repository and signing keys every
                # worker and API shares (a shared volume across machines).
                "AGENCY_DATA_DIR": str(self.data_dir),
                "AGENCY_DATABASE_URL": self.database_url,
                "AGENCY_TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal_port}",
                "AGENCY_TASK_QUEUE": "replicas-tasks",
                "AGENCY_EXECUTOR_TASK_QUEUE": "replicas-executors",
                "AGENCY_RATE_LIMIT_VIEWER": str(self.viewer_quota),
                "AGENCY_RATE_LIMIT_OPERATOR": "1000000",
                "AGENCY_RATE_LIMIT_ADMIN": "1000000",
                "AGENCY_RATE_LIMIT_WINDOW_S": "60",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(PROJECT_ROOT),
            }
        )
        env.update(extra)
        return env

    def _python(self, name: str, module: str, **extra: str) -> Part:
        log = self.root / "logs" / f"{name}.log"
        return Part(name, [sys.executable, "-m", module], self._env(**extra), log)

    def up(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade_database(self.database_url)
        key_file = ensure_admin_key(self.settings())
        assert key_file is not None
        self.admin_key = key_file.read_text().strip()
        # fmt: off
        temporal_argv = [
            str(TEMPORAL_BIN), "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(self.temporal_port), "--headless",
            *dev_server.file_store_args(str(self.data_dir / "temporal.db")),
            "--log-level", "warn",
            *dev_server.dynamic_config_args(),
        ]
        # fmt: on
        self.parts["temporal"] = Part(
            "temporal", temporal_argv, self._env(), self.root / "logs" / "temporal.log"
        )
        for replica in REPLICAS:
            self.parts[f"executor-{replica}"] = self._python(
                f"executor-{replica}", "agency.executor", AGENCY_EXECUTOR_NAME=f"host-{replica}"
            )
            self.parts[f"worker-{replica}"] = self._python(f"worker-{replica}", "agency.worker")
            self.parts[f"api-{replica}"] = self._python(
                f"api-{replica}",
                "api",
                AGENCY_API_HOST="127.0.0.1",
                AGENCY_API_PORT=str(self.api_ports[replica]),
            )
        temporal = self.parts["temporal"]
        temporal.start()
        wait_until(lambda: _port_open(self.temporal_port), READY_TIMEOUT_S, "Temporal", temporal)
        for name, part in self.parts.items():
            if name != "temporal":
                part.start()
        for replica in REPLICAS:
            api = self.parts[f"api-{replica}"]
            port = self.api_ports[replica]
            wait_until(lambda p=port: _port_open(p), READY_TIMEOUT_S, f"API {replica}", api)
        for replica in REPLICAS:
            wait_until(
                lambda r=replica: self.pollers(r) >= (2, 2),
                READY_TIMEOUT_S,
                f"both workers and both executors polling, as API {replica} sees them",
                self.parts[f"api-{replica}"],
            )

    def pollers(self, replica: str) -> tuple[int, int]:
        """(workflow workers, executors) polling their queues, from /health."""
        try:
            body = httpx.get(f"{self.api_url(replica)}/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return (0, 0)
        return (_count(body, "workers"), _count(body, "executors"))

    def executor_dir(self, replica: str) -> Path:
        return self.data_dir / "executors" / f"host-{replica}"

    def tails(self) -> str:
        return "\n\n".join(f"--- {name}\n{part.tail(20)}" for name, part in self.parts.items())

    def down(self) -> None:
        # APIs first, Temporal last: the order a service manager stops them in.
        for name in sorted(self.parts, key=lambda n: n == "temporal"):
            self.parts[name].stop()


def _count(health: dict[str, object], queue: str) -> int:
    pollers = health.get(queue)
    if not isinstance(pollers, dict):
        return 0
    return len({p["identity"] for p in pollers.get("pollers", []) if p.get("active")})
