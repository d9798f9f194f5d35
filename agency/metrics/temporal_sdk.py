"""The Temporal SDK's own metrics (workflow and activity task latencies, slots, polls,
sticky cache...; `temporal_` prefix), exported by its Rust core on a port of its own.

The core has its own Prometheus exporter, bound when the process's Temporal Runtime is
made; prometheus_client cannot serve those metrics on our endpoint, so a process has two
scrape targets: ours (agency.metrics.exposition) and this one. The Runtime must be made
before the process's first Temporal client, so `install_sdk_metrics` comes first in a
process's start.
"""

from __future__ import annotations

import logging

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

log = logging.getLogger("agency.metrics")


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def install_sdk_metrics(host: str, port: int, what: str) -> bool:
    """Make this process's default Temporal Runtime export its metrics on (host, port);
    False (logged) when off (port 0), when the port cannot be bound, or when a Runtime is
    already in use (a client was made first)."""
    if port == 0:
        return False
    address = bind_address(host, port)
    try:
        runtime = Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(
                    bind_address=address,
                    # Prometheus conventions: counters end in _total, durations are in
                    # seconds and say so (temporal_request_latency_seconds).
                    counters_total_suffix=True,
                    unit_suffix=True,
                    durations_as_seconds=True,
                )
            )
        )
        Runtime.set_default(runtime, error_if_already_set=True)
    except (ValueError, RuntimeError) as err:
        log.warning("%s Temporal SDK metrics not served on %s: %s", what, address, err)
        return False
    log.info("%s Temporal SDK metrics on http://%s/metrics", what, address)
    return True
