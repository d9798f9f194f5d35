"""The API's connection to Temporal, made for answering HTTP requests while Temporal may be
down.

- Made lazily: the API starts (and answers 503 where it needs Temporal) while Temporal is
  down. One connection attempt runs at a time; requests that arrive meanwhile wait for
  that attempt instead of queueing attempts of their own, and each waits at most
  CONNECT_TIMEOUT_S. A failed attempt is not remembered: the next request tries again
  (against a refused port that costs a millisecond).
- Calls give up quickly: the SDK retries a call that meets an unavailable server for up to
  10 s by default, right for a worker and too long for a request that answers 503 anyway.
  The API's client retries for about a second (RETRY), enough for a blip.
- A client made before an outage is kept: its channel reconnects by itself once a server
  answers at the same address again (tests/api/test_temporal_outage.py shows it).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import RetryConfig

from agency.settings import Settings
from agency.temporal_client import connect, data_converter
from api.outages import TemporalUnavailableError

CONNECT_TIMEOUT_S = 5.0
HEALTH_TIMEOUT_S = 3.0
RETRY = RetryConfig(
    initial_interval_millis=100,
    max_interval_millis=500,
    max_elapsed_time_millis=1500,
    max_retries=3,
)


class TemporalGateway:
    def __init__(
        self,
        settings: Settings,
        client: Client | None = None,
        converter: DataConverter | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        # Made once, at startup: codec keys configured wrongly stop the API there.
        self._converter = converter or data_converter(settings)
        self._connecting: asyncio.Task[Client] | None = None

    async def client(self, wait_s: float = CONNECT_TIMEOUT_S) -> Client:
        """The client; TemporalUnavailableError when Temporal cannot be reached now.
        While a connection is being made, wait at most `wait_s` for it (a read that can
        answer without Temporal waits less than a write that cannot)."""
        if self._client is not None:
            return self._client
        if self._connecting is None:
            self._connecting = asyncio.create_task(self._connect())
            self._connecting.add_done_callback(_retrieve)
        try:
            # Shielded: a waiter that gives up (its own wait, its request cancelled)
            # does not end the attempt the other waiters share.
            return await asyncio.wait_for(asyncio.shield(self._connecting), wait_s)
        except TimeoutError as err:
            raise TemporalUnavailableError(
                f"no connection to Temporal within {wait_s:g} s (still trying)"
            ) from err

    async def _connect(self) -> Client:
        address = self._settings.effective_temporal_address
        try:
            client = await asyncio.wait_for(
                connect(
                    self._settings,
                    "api",
                    converter=self._converter,
                    retry_config=RETRY,
                    connect_timeout=timedelta(seconds=CONNECT_TIMEOUT_S),
                ),
                timeout=CONNECT_TIMEOUT_S,
            )
        except Exception as err:  # refused, unresolvable, timed out: all "down"
            raise TemporalUnavailableError(
                f"cannot connect to Temporal at {address}: {type(err).__name__}"
            ) from err
        finally:
            self._connecting = None
        self._client = client
        return client

    async def healthy(self) -> tuple[bool, str]:
        try:
            client = await self.client()
            ok = await asyncio.wait_for(
                client.service_client.check_health(timeout=timedelta(seconds=HEALTH_TIMEOUT_S)),
                timeout=HEALTH_TIMEOUT_S + 1,
            )
        except Exception as err:  # any failure to reach Temporal is "down", with its reason
            return False, describe(err)
        return bool(ok), "serving" if ok else "not serving"


def describe(err: BaseException) -> str:
    """A short reason for a failed Temporal call (no stack, bounded)."""
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text}"[:300] if text else type(err).__name__


def _retrieve(task: asyncio.Task[Client]) -> None:
    # Every waiter may have gone before the attempt failed; fetching the exception here
    # keeps asyncio from logging it as never retrieved.
    if not task.cancelled():
        task.exception()
