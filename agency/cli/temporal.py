"""`agency temporal setup`: register the task workflows' search attributes on a Temporal
cluster (agency/temporal_setup.py), so that the web UI and `temporal workflow list
--query "AgencyPhase='awaiting_approval'"` can find tasks. The dev server `agency up`
starts registers them itself; a cluster needs this once per namespace.

Exit 0 when every attribute is registered (a second run changes nothing); 2, with the
reason and no traceback, when the server cannot be reached or refuses.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Annotated

import typer
from rich.markup import escape
from temporalio.service import RetryConfig, RPCError

from agency.cli.errors import EXIT_BAD_INPUT, CliError, handles_errors
from agency.cli.output import out
from agency.settings import Settings
from agency.temporal_setup import Registration, SearchAttributeConflict, register_search_attributes

temporal_app = typer.Typer(help="The Temporal side of Agent Agency.", no_args_is_help=True)

CONNECT_TIMEOUT_S = 10.0
# A refused or unreachable address fails within seconds, not the SDK's default minute.
RETRY = RetryConfig(initial_interval_millis=200, max_interval_millis=1000, max_retries=3)


@temporal_app.command("setup")
@handles_errors
def setup(
    address: Annotated[
        str | None,
        typer.Option(help="host:port of the cluster's frontend (default AGENCY_TEMPORAL_ADDRESS)"),
    ] = None,
    namespace: Annotated[
        str | None, typer.Option(help="the namespace (default AGENCY_TEMPORAL_NAMESPACE)")
    ] = None,
) -> None:
    """Register Agent Agency's search attributes (AgencyPhase, AgencyRiskTier, ...) in the
    namespace, through the operator service. Safe to run again."""
    settings = Settings()
    updates = {"temporal_address": address, "temporal_namespace": namespace}
    settings = settings.model_copy(update={k: v for k, v in updates.items() if v is not None})
    try:
        done = asyncio.run(_setup(settings))
    except CliError:
        raise
    except Exception as err:  # every failure is the user's to read, not a traceback
        raise CliError(
            f"could not register the search attributes at "
            f"{settings.effective_temporal_address} (namespace "
            f"{settings.temporal_namespace}): {_reason(err)}",
            EXIT_BAD_INPUT,
            hint="check AGENCY_TEMPORAL_ADDRESS (or --address), the TLS settings and that "
            "the credentials may use the operator service",
        ) from None
    console = out()
    where = f"namespace {settings.temporal_namespace} at {settings.effective_temporal_address}"
    if done.added:
        console.print(f"registered {', '.join(done.added)} in {escape(where)}")
    if done.already:
        console.print(f"already registered: {', '.join(done.already)}")
    if not done.added:
        console.print(f"nothing to do: every search attribute is registered in {escape(where)}")


async def _setup(settings: Settings) -> Registration:
    from agency.temporal_client import connect

    client = await asyncio.wait_for(
        connect(
            settings,
            "setup",
            retry_config=RETRY,
            connect_timeout=timedelta(seconds=CONNECT_TIMEOUT_S),
        ),
        timeout=CONNECT_TIMEOUT_S + 5,
    )
    try:
        return await register_search_attributes(client, settings.temporal_namespace)
    except SearchAttributeConflict as err:
        raise CliError(str(err), EXIT_BAD_INPUT) from None


def _reason(err: BaseException) -> str:
    if isinstance(err, RPCError):
        return f"{err.status.name if err.status else 'error'}: {err.message}"
    if isinstance(err, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S:g} s"
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if text.startswith("Failed client connect"):
        # The SDK's transport error is a Rust debug dump; its OS message is what matters.
        found = re.search(r'(?:message|error): "([^"]+)"', text)
        return f"cannot connect: {found.group(1) if found else text}"[:500]
    return f"{type(err).__name__}: {text}"[:500] if text else type(err).__name__
