"""`agency keys rotate-signing|revoke-signing|list-signing|export-signing`: the Ed25519
keys that sign provenance records.

These act on the keystore of this machine's data dir (AGENCY_DATA_DIR, or
AGENCY_SIGNING_KEYS_DIR), where the worker signs: run them there. `register` adds them
to the `agency keys` group (agency/cli/keys.py).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from agency.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, CliError, handles_errors
from agency.cli.output import note, out, print_json
from agency.cli.render import plain
from agency.provenance.config import keystore_for
from agency.provenance.keystore import Keystore, KeystoreError, PublicKeyInfo
from agency.settings import Settings

STATUS_STYLES = {"current": "green", "retired": "dim", "revoked": "red"}
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def register(group: typer.Typer) -> None:
    group.command("rotate-signing")(rotate_signing)
    group.command("revoke-signing")(revoke_signing)
    group.command("list-signing")(list_signing)
    group.command("export-signing")(export_signing)


def _keystore() -> Keystore:
    return keystore_for(Settings())


@handles_errors
def rotate_signing(as_json: JsonFlag = False) -> None:
    """Make a new current signing key; the old one is retired (its records still verify)."""
    try:
        info = _keystore().rotate()
    except KeystoreError as err:
        raise CliError(str(err), EXIT_FAILURE) from None
    if as_json:
        print_json(info.public())
        return
    typer.echo(info.kid)
    note(f"new current signing key {info.kid}; the previous one is retired")


@handles_errors
def revoke_signing(
    kid: Annotated[
        str,
        typer.Argument(
            help="The kid of the compromised key (one that begins with '-', made before "
            "kids were kept from doing so, goes after `--`: `revoke-signing --reason R -- -Dx`)."
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded with the key).")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a compromised signing key: nothing it signed verifies any more. Revoking the
    current key makes a new one."""
    keystore = _keystore()
    try:
        info = keystore.revoke(kid, reason)
    except KeystoreError as err:
        raise CliError(str(err), EXIT_BAD_INPUT) from None
    if as_json:
        print_json(info.public())
        return
    note(f"revoked signing key {info.kid}: records it signed no longer verify")


@handles_errors
def list_signing(as_json: JsonFlag = False) -> None:
    """Signing keys, oldest first: current, retired and revoked."""
    try:
        infos = _keystore().all_keys()
    except KeystoreError as err:
        raise CliError(str(err), EXIT_FAILURE) from None
    if as_json:
        print_json([i.public() for i in infos])
    elif not infos:
        note("no signing keys yet (the worker makes one when it first starts)")
    else:
        out().print(signing_table(infos))


@handles_errors
def export_signing(
    kid: Annotated[str | None, typer.Argument(help="A kid (default: the current key).")] = None,
    pem: Annotated[bool, typer.Option("--pem", help="PEM instead of a JWK.")] = False,
) -> None:
    """Print a signing key's public half (JWK or PEM), for JOSE tools and openssl."""
    keystore = _keystore()
    try:
        infos = keystore.all_keys()
    except KeystoreError as err:
        raise CliError(str(err), EXIT_FAILURE) from None
    wanted = [i for i in infos if (i.kid == kid if kid else i.status == "current")]
    if not wanted:
        raise CliError(f"no signing key {kid or '(current)'}", EXIT_BAD_INPUT)
    info = wanted[0]
    typer.echo(info.pem().rstrip() if pem else json.dumps(info.jwk(), indent=2))


def signing_table(infos: list[PublicKeyInfo]) -> Table:
    table = Table("kid", "status", "created", "retired", "revoked", "reason")
    for info in infos:
        table.add_row(
            plain(info.kid),
            plain(info.status),
            plain(info.created_at.isoformat()[:19]),
            plain(info.retired_at.isoformat()[:19] if info.retired_at else ""),
            plain(info.revoked_at.isoformat()[:19] if info.revoked_at else ""),
            plain(info.revoked_reason or ""),
            style=STATUS_STYLES.get(info.status),
        )
    return table
