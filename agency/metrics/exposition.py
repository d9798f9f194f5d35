"""The metrics endpoint of a process without a web server of its own (the workflow
worker, an executor): prometheus_client's HTTP server on a thread, at `/metrics` (and at
any other path: that server ignores it).

A port that cannot be bound (another process of the same kind on this machine, say) is
logged and the process goes on without its endpoint: metrics are worth less than the
work they observe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import REGISTRY, start_http_server

log = logging.getLogger("agency.metrics")


@asynccontextmanager
async def serving_metrics(host: str, port: int, what: str) -> AsyncIterator[int | None]:
    """Serve this process's registry on (host, port) until the block exits; yields the
    port bound, or None when the endpoint is off (port 0) or could not be bound."""
    if port == 0:
        yield None
        return
    try:
        server, _thread = start_http_server(port, addr=host, registry=REGISTRY)
    except OSError as err:
        log.warning("%s metrics not served on %s:%d: %s", what, host, port, err)
        yield None
        return
    bound = int(server.server_address[1])
    log.info("%s metrics on http://%s:%d/metrics", what, host, bound)
    try:
        yield bound
    finally:
        # shutdown() waits for the serving thread's next poll (half a second at most).
        await asyncio.to_thread(server.shutdown)
        server.server_close()
