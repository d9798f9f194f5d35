"""One Settings object for every process; each value overridable with an AGENCY_ variable."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGENCY_", extra="ignore")

    data_dir: Path = Path(".agency")

    # Temporal. When temporal_address is unset, `agency up` starts the embedded dev server.
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    task_queue: str = "agency-tasks"
    # Ports of the embedded dev server (used only when temporal_address is unset).
    temporal_port: int = 7233
    temporal_ui_port: int = 8233

    # Database. Unset means the embedded SQLite file under the data dir.
    database_url: str | None = None

    # API.
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_url: str = "http://127.0.0.1:8080"
    api_key: SecretStr | None = None

    # Executors: the URLs workers call, and where this machine's executor listens.
    executor_urls: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:8081"])
    executor_host: str = "127.0.0.1"
    executor_port: int = 8081
    # Without bubblewrap the executor refuses to run agents unless this is set explicitly.
    allow_unsandboxed: bool = False
    # Whether sandboxed processes may reach the network (the policy can also allow it).
    sandbox_network: bool = False
    output_cap_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)

    # Governance.
    policy_file: Path | None = None
    waivers_dir: Path | None = None
    approval_timeout_s: int = Field(default=24 * 3600, ge=1)

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'agency.db').resolve()}"

    @property
    def executor_data_dir(self) -> Path:
        return self.data_dir / "executor"

    @property
    def effective_waivers_dir(self) -> Path:
        return self.waivers_dir or (self.data_dir / "waivers")

    @cached_property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.resolve()


def get_settings() -> Settings:
    return Settings()
