"""Connecting to Temporal the same way everywhere: one data converter and one way to
secure the connection, for the API, the worker, executors, `agency up` and provenance.

The data converter is pydantic's, plus the AES-GCM payload codec when codec keys are
set (agency/codec), with failure messages and stack traces encoded as payloads too, so
that they are encrypted like everything else a task writes into its history.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from agency.codec import payload_codec
from agency.settings import Settings
from agency.temporal_security import temporal_security


def identity(role: str | None = None) -> str:
    """`<pid>@<host>` (the SDK's own default), then the role: pollers of a task queue can
    be told apart, and `agency up` finds its child's poller by the pid."""
    base = f"{os.getpid()}@{socket.gethostname()}"
    return f"{base} {role}" if role else base


def data_converter(settings: Settings) -> DataConverter:
    """The converter every client, worker and Replayer of ours uses. CodecConfigError
    when codec keys are configured wrongly."""
    codec = payload_codec(settings)
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(
    settings: Settings,
    role: str | None = None,
    *,
    converter: DataConverter | None = None,
    **options: Any,
) -> Client:
    """A client of `settings`' Temporal, secured as configured (TLS, mTLS, API key).
    `converter` defaults to data_converter(settings); `options` go to Client.connect
    (retry_config, connect_timeout, …). TemporalSettingsError or CodecConfigError, before
    any connection is tried, when the settings cannot work."""
    security = temporal_security(settings)
    return await Client.connect(
        settings.effective_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=converter or data_converter(settings),
        identity=identity(role),
        tls=security.tls,
        api_key=security.api_key,
        **options,
    )


def workflow_id_for(task_id: str) -> str:
    return f"task-{task_id}"
