"""The API's connection to Temporal: made lazily, so the API starts (and reports 503)
while Temporal is down, and reconnects by itself when it is back."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from agency.settings import Settings
from agency.temporal_client import connect


class TemporalGateway:
    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                self._client = await asyncio.wait_for(connect(self._settings), timeout=5)
            return self._client

    async def healthy(self) -> tuple[bool, str]:
        try:
            client = await self.client()
            ok = await asyncio.wait_for(client.service_client.check_health(), timeout=3)
        except Exception as err:  # any failure to reach Temporal is "down", with its reason
            return False, f"{type(err).__name__}: {err}"[:300]
        return bool(ok), "serving" if ok else "not serving"
