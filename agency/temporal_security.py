"""How a process proves itself to Temporal and checks Temporal back: TLS, mutual TLS and
an API key, from the AGENCY_TEMPORAL_* settings.

- TLS is on when AGENCY_TEMPORAL_TLS is true, or (when it is unset) when any TLS file,
  the server name or the API key is set. On with no CA file: the system's CA roots.
- mTLS: AGENCY_TEMPORAL_TLS_CERT_FILE and AGENCY_TEMPORAL_TLS_KEY_FILE, both or neither.
- AGENCY_TEMPORAL_TLS_SERVER_NAME: the name checked against the server's certificate
  when it is not the address's host (a load balancer, a tunnel, an IP address).
- AGENCY_TEMPORAL_API_KEY: Temporal Cloud's API keys (a bearer token on every call).

Files are read when a process connects; a missing or unreadable one is a
TemporalSettingsError naming the setting and the path, raised before any connection is
tried, so a misconfigured process stops at startup instead of retrying forever.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from temporalio.service import TLSConfig

from agency.settings import Settings


class TemporalSettingsError(ValueError):
    """The Temporal connection settings cannot work as given."""


@dataclass(frozen=True)
class TemporalSecurity:
    tls: TLSConfig | bool
    # Out of the repr: the API key is a credential.
    api_key: str | None = field(default=None, repr=False)


def temporal_security(settings: Settings) -> TemporalSecurity:
    s = settings
    api_key = s.temporal_api_key.get_secret_value() if s.temporal_api_key else None
    if api_key is not None and not api_key.strip():
        raise TemporalSettingsError("AGENCY_TEMPORAL_API_KEY is set but empty")
    files = {
        "AGENCY_TEMPORAL_TLS_CA_FILE": s.temporal_tls_ca_file,
        "AGENCY_TEMPORAL_TLS_CERT_FILE": s.temporal_tls_cert_file,
        "AGENCY_TEMPORAL_TLS_KEY_FILE": s.temporal_tls_key_file,
    }
    wants_tls = any(files.values()) or s.temporal_tls_server_name is not None
    if (s.temporal_tls_cert_file is None) != (s.temporal_tls_key_file is None):
        raise TemporalSettingsError(
            "mutual TLS needs both AGENCY_TEMPORAL_TLS_CERT_FILE and AGENCY_TEMPORAL_TLS_KEY_FILE"
        )
    enabled = s.temporal_tls if s.temporal_tls is not None else (wants_tls or api_key is not None)
    if not enabled:
        if wants_tls:
            raise TemporalSettingsError(
                "AGENCY_TEMPORAL_TLS is false but TLS files or a server name are set"
            )
        # Explicitly off with an API key: the key goes in the clear (a local proxy that
        # adds TLS itself, say); that is the operator's stated choice.
        return TemporalSecurity(tls=False, api_key=api_key)
    contents = {name: _read(name, path) for name, path in files.items() if path is not None}
    if not contents and s.temporal_tls_server_name is None:
        return TemporalSecurity(tls=True, api_key=api_key)
    return TemporalSecurity(
        tls=TLSConfig(
            server_root_ca_cert=contents.get("AGENCY_TEMPORAL_TLS_CA_FILE"),
            client_cert=contents.get("AGENCY_TEMPORAL_TLS_CERT_FILE"),
            client_private_key=contents.get("AGENCY_TEMPORAL_TLS_KEY_FILE"),
            domain=s.temporal_tls_server_name,
        ),
        api_key=api_key,
    )


def uses_security(settings: Settings) -> bool:
    """Whether any TLS or API key setting is given (the embedded dev server has neither)."""
    s = settings
    return bool(
        s.temporal_tls
        or s.temporal_tls_ca_file
        or s.temporal_tls_cert_file
        or s.temporal_tls_key_file
        or s.temporal_tls_server_name
        or s.temporal_api_key
    )


def _read(name: str, path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TemporalSettingsError(f"{name}: {path} does not exist") from None
    except IsADirectoryError:
        raise TemporalSettingsError(f"{name}: {path} is a directory, not a PEM file") from None
    except OSError as err:
        raise TemporalSettingsError(f"{name}: {path} cannot be read: {err.strerror}") from None
    if b"-----BEGIN " not in data:
        raise TemporalSettingsError(f"{name}: {path} is not a PEM file")
    return data
