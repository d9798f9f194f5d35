"""`agency keys create|list|revoke`: API keys, through the API (an admin key), or with
`--direct` straight in the database, for a new tenant's first key or a lost admin key.

`keys_app` is the Typer group; other command modules may register more commands on it.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from agency.cli.client import default_client, path_segment
from agency.cli.errors import EXIT_BAD_INPUT, EXIT_FAILURE, CliError, handles_errors
from agency.cli.output import note, out, print_json
from agency.cli.render import plain
from agency.db import keys as key_store
from agency.settings import Settings

keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)

API_KEYS = "/api/v1/keys"
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Direct = Annotated[
    bool,
    typer.Option(
        "--direct",
        help="Write to the database (AGENCY_DATABASE_URL or the data dir) instead of calling "
        "the API: for a new tenant's first key, or when no admin key is at hand.",
    ),
]


def _public(row: key_store.ApiKey) -> dict[str, Any]:
    return {
        "id": row.id,
        "prefix": row.prefix,
        "name": row.name,
        "role": row.role,
        "tenant": row.tenant,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
    }


async def _direct_create(settings: Settings, name: str, role: key_store.Role, tenant: str) -> Any:
    from agency.db.engine import make_engine, session_maker

    engine = make_engine(settings.effective_database_url)
    try:
        async with session_maker(engine)() as session:
            new = await key_store.create_key(session, name=name, role=role, tenant=tenant)
    finally:
        await engine.dispose()
    return {**_public(new.row), "key": new.raw}


async def _direct_list(settings: Settings, tenant: str | None, include_revoked: bool) -> Any:
    from agency.db.reads import make_reader

    reader = make_reader(settings.effective_database_url)
    try:
        rows = await key_store.list_keys(reader, tenant=tenant, include_revoked=include_revoked)
    finally:
        await reader.close()
    return [_public(r) for r in rows]


async def _direct_revoke(settings: Settings, key_id: str) -> Any:
    from agency.db.engine import make_engine, session_maker

    engine = make_engine(settings.effective_database_url)
    try:
        async with session_maker(engine)() as session:
            row = await key_store.revoke_key(session, key_id)
    finally:
        await engine.dispose()
    if row is None:
        raise CliError(f"no key {key_id}", EXIT_BAD_INPUT)
    return _public(row)


def _run(coro: Any) -> Any:
    from agency.db.migrate import run_blocking

    try:
        return run_blocking(coro)
    except CliError:
        raise
    except Exception as exc:
        raise CliError(f"database error: {type(exc).__name__}: {exc}", EXIT_FAILURE) from None


@keys_app.command("create")
@handles_errors
def create(
    name: Annotated[
        str, typer.Option("--name", help="Principal the audit log names for this key.")
    ],
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin.")] = "viewer",
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="Tenant of the key (with --direct; default: default)."),
    ] = None,
    direct: Direct = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a key; prints it once (it is stored only as a hash)."""
    if role not in key_store.ROLES:
        raise CliError(
            f"unknown role {role!r}; one of: {', '.join(key_store.ROLES)}", EXIT_BAD_INPUT
        )
    if direct:
        settings = Settings()
        created = _run(
            _direct_create(settings, name, role, tenant or settings.default_tenant)  # type: ignore[arg-type]
        )
    else:
        if tenant is not None:
            raise CliError(
                "through the API a key is made in the caller's own tenant; "
                "use --direct to make one for another tenant",
                EXIT_BAD_INPUT,
            )
        with default_client() as client:
            created = client.request("POST", API_KEYS, json={"name": name, "role": role})
    if as_json:
        print_json(created)
        return
    typer.echo(created["key"])
    note(
        f"created {created['role']} key {created['prefix']} for {created['name']} "
        f"(tenant {created['tenant']}); it is shown only now: store it safely"
    )


@keys_app.command("list")
@handles_errors
def list_keys(
    include_revoked: Annotated[bool, typer.Option("--all", help="Also list revoked keys.")] = False,
    direct: Direct = False,
    as_json: JsonFlag = False,
) -> None:
    """List keys (prefixes only): the caller's tenant, or with --direct every tenant."""
    if direct:
        items = _run(_direct_list(Settings(), None, include_revoked))
    else:
        with default_client() as client:
            params = {"include_revoked": "true" if include_revoked else None}
            items = client.request("GET", API_KEYS, params=params)["items"]
    if as_json:
        print_json(items)
    elif not items:
        note("no keys")
    else:
        out().print(key_table(items))


@keys_app.command("revoke")
@handles_errors
def revoke(
    key_id: Annotated[str, typer.Argument(help="Key id or prefix (aa_<id>).")],
    direct: Direct = False,
    as_json: JsonFlag = False,
) -> None:
    """Revoke a key: its next request is refused."""
    key_id = key_id.removeprefix(f"{key_store.KEY_MARK}_")
    if direct:
        revoked = _run(_direct_revoke(Settings(), key_id))
    else:
        with default_client() as client:
            revoked = client.request("DELETE", f"{API_KEYS}/{path_segment(key_id)}")
    if as_json:
        print_json(revoked)
    else:
        note(f"revoked {revoked['prefix']} ({revoked['name']})")


def key_table(items: list[dict[str, Any]]) -> Table:
    table = Table("prefix", "name", "role", "tenant", "created", "last used", "revoked")
    for item in items:
        table.add_row(
            *(
                plain(item.get(field))
                for field in (
                    "prefix",
                    "name",
                    "role",
                    "tenant",
                    "created_at",
                    "last_used_at",
                    "revoked_at",
                )
            )
        )
    return table
