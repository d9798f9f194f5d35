"""One Settings object for every process; each value overridable with an AGENCY_ variable."""

from __future__ import annotations

import socket
from functools import cached_property
from pathlib import Path
from typing import Literal

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
    # Securing the connection to a Temporal cluster (agency/temporal_security.py). TLS is
    # on when any of these is set (AGENCY_TEMPORAL_TLS=true alone: TLS with the system's
    # CA roots; false turns it off whatever else is set). Files are PEM.
    temporal_tls: bool | None = None
    temporal_tls_ca_file: Path | None = None
    temporal_tls_cert_file: Path | None = None
    temporal_tls_key_file: Path | None = None
    # The name the server's certificate is checked against, when not the address's host.
    temporal_tls_server_name: str | None = None
    # A Temporal Cloud API key (sent as a bearer token; implies TLS).
    temporal_api_key: SecretStr | None = None
    # The origin of the Temporal web UI allowed to call the API's /codec endpoints (CORS).
    # Unset: the embedded UI, http://127.0.0.1:<temporal_ui_port>.
    temporal_ui_origin: str | None = None

    # Encrypted workflow payloads (agency/codec): off until a key is set. `codec_keys` is
    # a JSON object {"<kid>": "<base64 of 32 bytes>", ...}; `codec_keys_file` a file with
    # the same object (mode 0600, outside the repository); both may be used at once.
    # `codec_key_id` names the key that encrypts (needed when there are several); every
    # configured key decrypts.
    codec_keys: dict[str, SecretStr] = Field(default_factory=dict)
    codec_keys_file: Path | None = None
    codec_key_id: str | None = None

    # Database. Unset means the embedded SQLite file under the data dir.
    database_url: str | None = None
    # PostgreSQL: connections each of an API process's request-path pools (reads, rate
    # limits) keeps open; requests beyond it wait for one (agency.db.engine.make_engine).
    database_pool_size: int = Field(default=10, ge=1, le=200)

    # API.
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_url: str = "http://127.0.0.1:8080"
    api_key: SecretStr | None = None
    # Tenant of the first admin key `agency up` creates (and of keys made without one).
    default_tenant: str = Field(default="default", min_length=1, max_length=100)
    # Rate limits per API key, by role: a token bucket of `rate_limit_<role>` requests
    # refilled evenly over `rate_limit_window_s` seconds (so bursts up to the quota).
    rate_limit_window_s: float = Field(default=60.0, gt=0, le=86_400)
    rate_limit_viewer: int = Field(default=600, ge=1)
    rate_limit_operator: int = Field(default=600, ge=1)
    rate_limit_admin: int = Field(default=1200, ge=1)
    # Largest request body the API reads; bigger ones are answered 413.
    max_body_bytes: int = Field(default=1_000_000, ge=1024, le=64 * 1024 * 1024)

    # Executors are Temporal workers (python -m agency.executor). Each polls the shared
    # `executor_task_queue` (claims of a host, applies) and a queue of its own for the
    # steps of a run that must happen where its worktree is.
    executor_task_queue: str = Field(default="agency-executors", min_length=1, max_length=200)
    # This executor's name (in its host queue, its Temporal identity and the audit).
    executor_name: str = Field(default_factory=socket.gethostname, min_length=1, max_length=100)
    # Runs one executor takes at once; a claim beyond it goes to another executor.
    executor_max_runs: int = Field(default=4, ge=1, le=1000)
    # A host that sends no heartbeat for this long is lost: its run starts again elsewhere.
    executor_heartbeat_timeout_s: float = Field(default=15.0, ge=1.0, le=3600.0)
    # A step queued for a host that nobody polls for this long: the host is gone.
    executor_lost_after_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    # How long a task waits for any executor with room before it fails.
    executor_claim_timeout_s: float = Field(default=3600.0, ge=1.0, le=7 * 86_400.0)
    # Secrets an executor gives agents (a task names them in agent.secrets), besides its
    # own AGENCY_SECRET_<NAME> variables: files named NAME in a directory, and NAME=value
    # lines in a file. Both are hidden from agents' sandboxes.
    secrets_dir: Path | None = None
    secrets_file: Path | None = None
    # Without bubblewrap the executor refuses to run agents unless this is set explicitly.
    allow_unsandboxed: bool = False
    # Whether sandboxed processes may reach the network (the policy can also allow it).
    sandbox_network: bool = False
    output_cap_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)

    # Prometheus metrics (agency/metrics, docs/observability.md). The API serves GET
    # /metrics on its own port; the worker and each executor serve theirs on these ports,
    # and the Temporal SDK's own metrics (its Rust core binds the socket) on the `sdk`
    # ones. 0 turns an endpoint off. Loopback by default: metrics name task counts and
    # timings, which a scraper on the same host or a tunnel should be the one to see.
    metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=9181, ge=0, le=65535)
    worker_sdk_metrics_port: int = Field(default=9182, ge=0, le=65535)
    executor_metrics_port: int = Field(default=9183, ge=0, le=65535)
    executor_sdk_metrics_port: int = Field(default=9184, ge=0, le=65535)

    # Governance.
    policy_file: Path | None = None
    waivers_dir: Path | None = None
    approval_timeout_s: int = Field(default=24 * 3600, ge=1)
    # Service level objectives (docs/slo.md): unset, agency/slo/default-slo.yaml.
    slo_file: Path | None = None
    # Alerts from the SLOs (docs/alerts.md): how often the evaluator runs (a Temporal
    # Schedule the worker keeps), how long a firing alert waits before it is notified
    # again, and the webhooks notified (a JSON list of URLs), with the HMAC-SHA256 key of
    # their `X-Agency-Signature` header (unset: unsigned).
    alert_interval_s: float = Field(default=60.0, ge=5.0, le=86_400.0)
    alert_repeat_interval_s: float = Field(default=4 * 3600.0, ge=60.0, le=7 * 86_400.0)
    alert_webhooks: list[str] = Field(default_factory=list)
    alert_webhook_secret: SecretStr | None = None
    # The database explorer (docs/explorer.md): a query's deadline, rows and result size.
    explorer_deadline_s: float = Field(default=5.0, gt=0, le=300)
    explorer_max_rows: int = Field(default=1000, ge=1, le=100_000)
    explorer_max_bytes: int = Field(default=8_000_000, ge=1024, le=256_000_000)

    # Provenance. Signing keys live behind a keystore ("file": a 0700 directory under the
    # data dir); records are committed to a git repository (default under the data dir).
    keystore: Literal["file"] = "file"
    signing_keys_dir: Path | None = None
    provenance_repo: Path | None = None

    # Inference (MLX). `model` is the default model's name: a built-in one
    # (smollm2-135m, smollm2-135m-q4) or a key of `models`, which maps more names to a
    # GGUF file or an mlx-lm model directory (AGENCY_MODELS='{"name": "/path"}').
    model: str = Field(default="smollm2-135m", min_length=1, max_length=200)
    models: dict[str, Path] = Field(default_factory=dict)
    # "auto": float32 on a CPU (fastest with MLX there), the file's own weights on a GPU.
    inference_precision: Literal["auto", "float32", "native"] = "auto"
    # CPU BLAS for MLX (agency/inference/blas.py): "auto" loads Debian's OpenBLAS when
    # installed, with the shim `make venv` built for this machine (agency/inference/shim.c:
    # one-row products from the GGUF's own weights); "openblas" without the shim; "none"
    # (the wheel's slow reference BLAS); or a path to a BLAS library.
    inference_blas: str = "auto"
    inference_max_tokens: int = Field(default=256, ge=1, le=8192)
    inference_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    # Judges' written assessments by the model: off by default (they cost seconds per
    # judge); AGENCY_ASSESSMENTS=1 turns them on.
    assessments: bool = False
    assessment_max_tokens: int = Field(default=48, ge=1, le=1024)
    # Draft diffs of model-driven agents.
    agent_max_tokens: int = Field(default=512, ge=1, le=8192)

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def effective_temporal_ui_origin(self) -> str:
        return self.temporal_ui_origin or f"http://127.0.0.1:{self.temporal_ui_port}"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'agency.db').resolve()}"

    @property
    def executor_data_dir(self) -> Path:
        """This executor's own directory: executors sharing a data dir keep apart by name."""
        return self.data_dir / "executors" / self.executor_name

    @property
    def stack_state_file(self) -> Path:
        """Written by `agency up`'s supervisor: each part's state, pid and restart count."""
        return self.resolved_data_dir / "stack.json"

    @property
    def effective_waivers_dir(self) -> Path:
        return self.waivers_dir or (self.data_dir / "waivers")

    @property
    def effective_signing_keys_dir(self) -> Path:
        return self.signing_keys_dir or (self.data_dir / "signing-keys")

    @property
    def effective_provenance_repo(self) -> Path:
        return self.provenance_repo or (self.data_dir / "provenance")

    @cached_property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.resolve()


def get_settings() -> Settings:
    return Settings()
