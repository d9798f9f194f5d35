"""Securing the Temporal connection: the TLS and API key arguments `connect` derives from
the settings, and a real mutual-TLS connection to the dev server through a TLS proxy
with certificates made here."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.service import RetryConfig, TLSConfig
from temporalio.testing import WorkflowEnvironment

from agency.settings import Settings
from agency.stack import Stack, StackError
from agency.temporal_client import connect
from agency.temporal_security import TemporalSettingsError, temporal_security
from tests.support.tls import SERVER_NAME, make_pki, server_context, tls_proxy

# A refused handshake is final: fail fast instead of the SDK's 10 s of retries.
NO_RETRY = {
    "retry_config": RetryConfig(max_retries=0, max_elapsed_time_millis=1000),
    "connect_timeout": timedelta(seconds=5),
}


def test_no_settings_no_tls_no_key() -> None:
    security = temporal_security(Settings())
    assert security.tls is False and security.api_key is None


def test_an_api_key_implies_tls_with_the_system_roots() -> None:
    security = temporal_security(Settings(temporal_api_key=SecretStr("cloud-key")))
    assert security.tls is True and security.api_key == "cloud-key"
    assert "cloud-key" not in repr(security)
    # Turned off explicitly (a local TLS-adding proxy, say): the operator's choice.
    off = temporal_security(Settings(temporal_api_key=SecretStr("k"), temporal_tls=False))
    assert off.tls is False and off.api_key == "k"


def test_files_and_server_name_make_a_tls_config(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    security = temporal_security(
        Settings(
            temporal_tls_ca_file=pki.ca,
            temporal_tls_cert_file=pki.client_cert,
            temporal_tls_key_file=pki.client_key,
            temporal_tls_server_name=SERVER_NAME,
        )
    )
    assert security.tls == TLSConfig(
        server_root_ca_cert=pki.ca.read_bytes(),
        client_cert=pki.client_cert.read_bytes(),
        client_private_key=pki.client_key.read_bytes(),
        domain=SERVER_NAME,
    )
    only_ca = temporal_security(Settings(temporal_tls_ca_file=pki.ca)).tls
    assert isinstance(only_ca, TLSConfig) and only_ca.client_cert is None


def test_settings_that_cannot_work_are_named(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    missing = tmp_path / "missing.pem"
    cases = [
        (
            Settings(temporal_tls_cert_file=missing, temporal_tls_key_file=pki.client_key),
            f"AGENCY_TEMPORAL_TLS_CERT_FILE: {missing} does not exist",
        ),
        (Settings(temporal_tls_ca_file=tmp_path), "is a directory"),
        (Settings(temporal_tls_cert_file=pki.client_cert), "needs both"),
        (Settings(temporal_tls=False, temporal_tls_ca_file=pki.ca), "TLS is false"),
        (Settings(temporal_api_key=SecretStr(" ")), "set but empty"),
    ]
    (tmp_path / "not.pem").write_text("hello")
    cases.append((Settings(temporal_tls_ca_file=tmp_path / "not.pem"), "is not a PEM file"))
    for settings, message in cases:
        with pytest.raises(TemporalSettingsError, match=message):
            temporal_security(settings)


async def test_connect_refuses_a_missing_certificate_before_connecting(tmp_path: Path) -> None:
    missing = tmp_path / "gone.pem"
    settings = Settings(
        temporal_address="127.0.0.1:1",
        temporal_tls_cert_file=missing,
        temporal_tls_key_file=missing,
    )
    with pytest.raises(TemporalSettingsError, match=f"{missing} does not exist"):
        await connect(settings)


def test_the_worker_process_stops_at_startup_naming_a_missing_certificate(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "gone.pem"
    env = {
        **os.environ,
        "AGENCY_DATA_DIR": str(tmp_path),
        "AGENCY_TEMPORAL_ADDRESS": "127.0.0.1:1",
        "AGENCY_TEMPORAL_TLS_CERT_FILE": str(missing),
        "AGENCY_TEMPORAL_TLS_KEY_FILE": str(missing),
    }
    done = subprocess.run(
        [sys.executable, "-m", "agency.worker"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 78, done.stderr
    assert f"AGENCY_TEMPORAL_TLS_CERT_FILE: {missing} does not exist" in done.stderr


def test_agency_up_refuses_tls_settings_it_cannot_use(tmp_path: Path) -> None:
    missing = tmp_path / "gone.pem"
    embedded = Settings(data_dir=tmp_path / "a", temporal_api_key=SecretStr("k"))
    with pytest.raises(StackError, match="embedded dev server speaks plain gRPC"):
        Stack(embedded).preflight()
    remote = Settings(
        data_dir=tmp_path / "b", temporal_address="127.0.0.1:1", temporal_tls_ca_file=missing
    )
    with pytest.raises(StackError, match=f"{missing} does not exist"):
        Stack(remote).preflight()


async def test_mutual_tls_to_a_real_server(dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    target = dev_env.client.service_client.config.target_host
    async with tls_proxy(target, server_context(pki, require_client_cert=True)) as address:
        mtls = Settings(
            temporal_address=address,
            temporal_tls_ca_file=pki.ca,
            temporal_tls_cert_file=pki.client_cert,
            temporal_tls_key_file=pki.client_key,
            # The certificate names temporal.test; we dial 127.0.0.1.
            temporal_tls_server_name=SERVER_NAME,
            temporal_api_key=SecretStr("a-cloud-style-key"),
        )
        client = await connect(mtls, **NO_RETRY)
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace="default")
        )
        assert described.namespace_info.name == "default"
        assert client.service_client.config.api_key == "a-cloud-style-key"
        assert isinstance(client.service_client.config.tls, TLSConfig)

        # Without a client certificate the server refuses the connection.
        no_cert = mtls.model_copy(
            update={"temporal_tls_cert_file": None, "temporal_tls_key_file": None}
        )
        # The proxy's TLS handshake refuses it: the SDK reports a transport error, or, when
        # the refusal lands after its connection call went out, that connection closed.
        with pytest.raises(RuntimeError, match=r"transport error|connection closed"):
            await connect(no_cert, **NO_RETRY)
        # Without the server name override the certificate does not match the address.
        wrong_name = mtls.model_copy(update={"temporal_tls_server_name": None})
        with pytest.raises(RuntimeError, match="NotValidForName"):
            await connect(wrong_name, **NO_RETRY)
        # Nor does a server whose CA we were not told to trust.
        other = make_pki(tmp_path / "other")
        with pytest.raises(RuntimeError, match="InvalidCertificate"):
            await connect(mtls.model_copy(update={"temporal_tls_ca_file": other.ca}), **NO_RETRY)
