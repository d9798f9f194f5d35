"""`agency keys`: through the API with the admin key file, and --direct to the database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agency.admin_key import ensure_admin_key
from agency.asgi_thread import free_port, serve_app
from agency.cli.main import app
from agency.db.migrate import upgrade_database
from agency.settings import Settings
from api.app import create_app


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The API on a fresh data dir whose admin.key the CLI picks up (as after `agency up`)."""
    data = tmp_path / "data"
    data.mkdir()
    settings = Settings(
        data_dir=data, temporal_address=f"127.0.0.1:{free_port()}", executor_urls=[]
    )
    upgrade_database(settings.effective_database_url)
    ensure_admin_key(settings)
    with serve_app(create_app(settings)) as url:
        yield {"AGENCY_API_URL": url, "AGENCY_DATA_DIR": str(data), "AGENCY_API_KEY": ""}


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_create_list_revoke_through_the_api(served: dict[str, str]) -> None:
    code, out, err = run(served, "keys", "create", "--name", "ci", "--role", "operator")
    assert code == 0, err
    key = out.strip()
    assert key.startswith("aa_") and "shown only" in err

    code, out, _ = run(served, "keys", "list", "--json")
    listed = json.loads(out)
    assert [(k["name"], k["role"]) for k in listed] == [("admin", "admin"), ("ci", "operator")]
    assert key not in out

    code, out, err = run({**served, "AGENCY_API_KEY": key}, "keys", "list")
    assert code == 2 and "403" in err  # operators do not manage keys

    ci_id = listed[1]["id"]
    code, _, err = run(served, "keys", "revoke", f"aa_{ci_id}")
    assert code == 0 and "revoked" in err
    code, _, err = run({**served, "AGENCY_API_KEY": key}, "list")
    assert code == 2 and "401" in err

    code, _, err = run(served, "keys", "create", "--name", "x", "--role", "root")
    assert code == 2 and "unknown role" in err
    code, _, err = run(served, "keys", "create", "--name", "x", "--tenant", "other")
    assert code == 2 and "--direct" in err


def test_direct_makes_keys_for_a_new_tenant(served: dict[str, str]) -> None:
    code, out, err = run(
        served, "keys", "create", "--name", "boss", "--role", "admin",
        "--tenant", "acme", "--direct", "--json",
    )  # fmt: skip
    assert code == 0, err
    created = json.loads(out)
    assert created["tenant"] == "acme" and created["key"].startswith("aa_")

    acme = {**served, "AGENCY_API_KEY": created["key"]}
    code, out, _ = run(acme, "keys", "list", "--json")
    assert [k["name"] for k in json.loads(out)] == ["boss"]
    code, out, _ = run(served, "keys", "list", "--direct", "--json")
    assert {k["tenant"] for k in json.loads(out)} == {"default", "acme"}
    code, _, err = run(served, "keys", "revoke", created["id"], "--direct")
    assert code == 0, err
    code, _, err = run(acme, "keys", "list")
    assert code == 2 and "401" in err
