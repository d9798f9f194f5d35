"""`agency ui`: open the dashboard, signed in, with a one-time link.

The CLI asks the API for a link with its own API key (AGENCY_API_KEY or the admin key in
the data dir), sent in the Authorization header as for any request. The link carries a
random token, not the key, in its fragment (`/ui/sign-in#link=…`): browsers never send a
fragment to a server, it works once, and it expires (LINK_TTL_S for `agency ui`,
UP_LINK_TTL_S when `agency up` prints one).
"""

from __future__ import annotations

import webbrowser
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from agency.cli.client import problem_error, resolve_api_key
from agency.cli.errors import EXIT_FAILURE, CliError, handles_errors
from agency.cli.output import out
from agency.settings import Settings

DASHBOARD_PATH = "/ui/"
LINKS_PATH = "/ui/sign-in/links"
LINK_TTL_S = 120
UP_LINK_TTL_S = 900


def dashboard_url(api_url: str) -> str:
    return api_url.rstrip("/") + DASHBOARD_PATH


def sign_in_link(api_url: str, api_key: str, ttl_s: int = LINK_TTL_S) -> tuple[str, int]:
    """A one-time sign-in link for `api_key` (and how long it is valid, in seconds)."""
    base = api_url.rstrip("/")
    try:
        answer = httpx.post(
            base + LINKS_PATH,
            json={"ttl_s": ttl_s},
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=10.0,
        )
    except httpx.TransportError as exc:
        raise CliError(
            f"The API is not reachable at {base} ({type(exc).__name__}).",
            EXIT_FAILURE,
            hint="Start the stack with `agency up`, or point AGENCY_API_URL at a running API.",
        ) from None
    if not answer.is_success:
        raise problem_error(answer)
    body = answer.json()
    return base + str(body["path"]), int(body["ttl_s"])


def print_dashboard(
    api_url: str, settings: Settings, console: Console, url: str | None = None
) -> None:
    """What `agency up` and `agency demo` say about the dashboard: its URL and, when an
    API key is at hand, a one-time sign-in link (never the key)."""
    console.print(f"Dashboard:   {url or dashboard_url(api_url)}")
    key = resolve_api_key(settings)
    if key is None:
        console.print("             sign in with an API key (`agency keys create`)")
        return
    try:
        link, ttl_s = sign_in_link(api_url, key, UP_LINK_TTL_S)
    except CliError as err:
        console.print(f"             [dim](no sign-in link: {escape(err.message)})[/]")
        return
    console.print(
        f"             one-time sign-in link (valid {ttl_s // 60} min, works once; "
        "`agency ui` makes another):"
    )
    console.print(f"             {escape(link)}", soft_wrap=True)


@handles_errors
def ui(
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the link; do not open a browser.")
    ] = False,
    ttl: Annotated[
        int,
        typer.Option("--ttl", min=10, max=900, help="Seconds the one-time link stays valid."),
    ] = LINK_TTL_S,
) -> None:
    """Open the dashboard in a browser, signed in with a one-time link.

    The link is made for the CLI's API key (AGENCY_API_KEY, or the admin key `agency up`
    wrote); it works once and expires after --ttl seconds. The key itself is never put in
    a URL.
    """
    settings = Settings()
    key = resolve_api_key(settings)
    if key is None:
        raise CliError(
            "No API key: set AGENCY_API_KEY (or run `agency up`, which writes an admin key).",
            EXIT_FAILURE,
        )
    link, ttl_s = sign_in_link(settings.api_url, key, ttl)
    console = out()
    console.print(f"Dashboard: {dashboard_url(settings.api_url)}")
    console.print(f"One-time sign-in link (valid {ttl_s} s, works once):")
    console.print(escape(link), soft_wrap=True)
    if not no_browser:
        try:
            opened = webbrowser.open(link)
        except webbrowser.Error:
            opened = False
        if not opened:
            console.print("[dim]No browser could be opened here: open the link yourself.[/]")
