"""A secret an agent uses reaches the agent and is found nowhere else.

The executor is started with `AGENCY_SECRET_API_TOKEN=<a planted value>` and two tasks
name `API_TOKEN` in `agent.secrets`: one agent uses it (prints it, and commits its
SHA-256 to show it had it), the other writes it into a file. Then every store is
searched for the planted value: every table of the database (SQLite and PostgreSQL),
every file under the data dir (the Temporal dev server's database, provenance
repository, executor directories, logs), every git object of the provenance and target
repositories (compressed objects decompressed), the Temporal history of every workflow,
the body of every GET route a viewer can call, and every process's log. Both
deployments are checked: `agency up` (SQLite) and each part on its own (PostgreSQL).
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.client import Client

from tests.faults.agency_up import AgencyUp
from tests.faults.deployment import Deployment
from tests.faults.tasks import Tasks
from tests.support.private_postgres import private_postgres
from tests.support.repos import git, make_repo

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

PLANTED = f"planted-{uuid.uuid4().hex}"
NAME = "API_TOKEN"

USES = (
    "import hashlib, os, pathlib\n"
    "token = os.environ['API_TOKEN']\n"
    "print('using', token, flush=True)\n"
    "p = pathlib.Path('src/calc.py')\n"
    "digest = hashlib.sha256(token.encode()).hexdigest()\n"
    "p.write_text(p.read_text() + f'\\nDIGEST = {digest!r}\\n')\n"
)
LEAKS = (
    "import os, pathlib\n"
    "pathlib.Path('src/leak.py').write_text('KEY = ' + repr(os.environ['API_TOKEN']) + '\\n')\n"
)


def body(repo: Path, script: str) -> dict[str, Any]:
    return {
        "id": "CHORE-0007",
        "title": "Use the API token",
        "risk_tier": 3,
        "mode": "chore",
        "scope": {"in": ["src/"]},
        "invariants": ["double unchanged"],
        "acceptance": [{"id": "A1", "given": "a token", "when": "used", "then": "ok"}],
        "repo": str(repo),
        "agent": {"argv": ["python3", "-c", script], "timeout_s": 60, "secrets": [NAME]},
        "execution_mode": "auto",
        "max_iterations": 1,
    }


def submit(tasks: Tasks, repos: Path, script: str) -> tuple[str, Path]:
    repo = make_repo(repos / f"repo-{uuid.uuid4().hex[:8]}")
    return tasks.post(body(repo, script)), repo


# ---------------------------------------------------------------------------- stores
def leaks_in_files(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if PLANTED.encode() in path.read_bytes():
                    found.append(str(path))
            except OSError:
                continue
    return found


def leaks_in_git(repo: Path) -> list[str]:
    """Every object, reachable or not, decompressed."""
    out = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True,
        check=True,
    ).stdout
    return [f"git objects of {repo}"] if PLANTED.encode() in out else []


async def leaks_in_database(url: str) -> list[str]:
    engine = create_async_engine(url)
    found: list[str] = []
    try:
        async with engine.connect() as conn:
            metadata = MetaData()
            await conn.run_sync(metadata.reflect)
            for table in metadata.sorted_tables:
                rows = (await conn.execute(select(table))).all()
                if PLANTED in repr(rows):
                    found.append(f"table {table.name}")
    finally:
        await engine.dispose()
    return found


async def leaks_in_histories(address: str) -> list[str]:
    client = await Client.connect(address)
    found = []
    async for execution in client.list_workflows():
        history = await client.get_workflow_handle(execution.id).fetch_history()
        raw = b"".join(event.SerializeToString() for event in history.events)
        if PLANTED.encode() in raw or PLANTED in history.to_json():
            found.append(f"history of {execution.id}")
    return found


def leaks_in_api(api_url: str, admin_key: str, task_ids: list[str]) -> list[str]:
    """The body of every GET route of the OpenAPI document a viewer may call."""
    with httpx.Client(base_url=api_url, timeout=30) as http:
        created = http.post(
            "/api/v1/keys",
            json={"name": "auditor", "role": "viewer"},
            headers={"Authorization": f"Bearer {admin_key}"},
        )
        assert created.status_code == 201, created.text
        viewer = created.json()
        http.headers["Authorization"] = f"Bearer {viewer['key']}"
        paths = http.get("/openapi.json").json()["paths"]
        found, called = [], 0
        for template, operations in paths.items():
            if "get" not in operations or template.endswith("/stream"):
                continue  # endless SSE streams: their events are the /events pages
            for url in _concrete(template, task_ids, viewer["id"]):
                response = http.get(url)
                called += 1
                assert response.status_code < 500, (url, response.text)
                if PLANTED in response.text:
                    found.append(f"GET {url}")
        assert called >= 10, "the OpenAPI document lists the routes"
    return found


def _concrete(template: str, task_ids: list[str], key_id: str) -> list[str]:
    if "{task_id}" in template:
        return [template.replace("{task_id}", t) for t in task_ids]
    if "{key_id}" in template:
        return [template.replace("{key_id}", key_id)]
    if "{" in template:
        return []  # waivers, chat sessions, models: none were made here
    return [template]


def assert_found_nowhere(stores: dict[str, list[str]]) -> None:
    leaks = {store: where for store, where in stores.items() if where}
    assert not leaks, f"the planted secret leaked: {leaks}"


def assert_used_and_contained(tasks: Tasks, uses: str, used_repo: Path, leaks: str) -> None:
    """The agent had the secret (its digest is committed); the leaking change was refused
    by the council, which saw only the redaction marker."""
    done = tasks.wait_terminal(uses)
    assert done["phase"] == "completed", done.get("error")
    digest = hashlib.sha256(PLANTED.encode()).hexdigest()
    assert digest in git(used_repo, "show", "main:src/calc.py")
    refused = tasks.wait_terminal(leaks)
    assert refused["phase"] == "rejected", refused.get("error")
    audit = tasks.audit(leaks)
    executed = next(e for e in audit if e["action"] == "executed")
    assert executed["detail"]["redactions"] == {NAME: 1}
    used = next(e for e in tasks.audit(uses) if e["action"] == "executed")
    assert used["detail"]["redactions"] == {NAME: 1}  # the printed value
    for task_id in (uses, leaks):
        report = tasks.provenance(task_id)
        assert report["verified"], report["checks"]


# --------------------------------------------------------------------- deployments
@pytest.fixture
def postgres_deployment(tmp_path: Path) -> Iterator[Deployment]:
    with private_postgres() as postgres:
        deployed = Deployment(
            tmp_path / "deployment", postgres, executor_env={f"AGENCY_SECRET_{NAME}": PLANTED}
        )
        try:
            deployed.up()
            yield deployed
        finally:
            deployed.down()


def test_each_part_on_postgres(postgres_deployment: Deployment, tmp_path: Path) -> None:
    d = postgres_deployment
    tasks = Tasks(d.api_url, d.admin_key, tmp_path)
    repos = tmp_path / "repos"
    try:
        uses, used_repo = submit(tasks, repos, USES)
        leaks, leaked_repo = submit(tasks, repos, LEAKS)
        assert_used_and_contained(tasks, uses, used_repo, leaks)
        api = leaks_in_api(d.api_url, d.admin_key, [uses, leaks])
    finally:
        tasks.close()
    dump = subprocess.run(
        [str(d.postgres.bin_dir / "pg_dump"), "-h", "127.0.0.1", "-p", str(d.postgres.port),
         "-U", "postgres", "postgres"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert b"CREATE TABLE public.tasks" in dump
    assert_found_nowhere(
        {
            "database dump": ["pg_dump"] if PLANTED.encode() in dump else [],
            "database tables": asyncio.run(leaks_in_database(d.postgres.url)),
            "data dir": leaks_in_files(d.data_dir),
            "provenance repository": leaks_in_git(d.data_dir / "provenance"),
            "target repositories": leaks_in_git(used_repo) + leaks_in_git(leaked_repo),
            "temporal history": asyncio.run(leaks_in_histories(d.settings().temporal_address)),
            "api": api,
            "logs": [str(p) for p in d.logs() if PLANTED.encode() in p.read_bytes()],
        }
    )


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[AgencyUp]:
    up = AgencyUp(tmp_path / "up", extra_env={f"AGENCY_SECRET_{NAME}": PLANTED})
    try:
        up.start()
        yield up
    finally:
        up.stop()


def test_agency_up_on_sqlite(embedded: AgencyUp, tmp_path: Path) -> None:
    up = embedded
    key = up.admin_key()
    tasks = Tasks(up.api_url, key, tmp_path)
    repos = tmp_path / "repos"
    try:
        uses, used_repo = submit(tasks, repos, USES)
        leaks, leaked_repo = submit(tasks, repos, LEAKS)
        assert_used_and_contained(tasks, uses, used_repo, leaks)
        api = leaks_in_api(up.api_url, key, [uses, leaks])
    finally:
        tasks.close()
    database = f"sqlite+aiosqlite:///{up.data_dir / 'agency.db'}"
    assert_found_nowhere(
        {
            "database tables": asyncio.run(leaks_in_database(database)),
            # The SQLite file, its WAL, the dev server's temporal.db, logs, worktrees.
            "data dir": leaks_in_files(up.data_dir),
            "provenance repository": leaks_in_git(up.data_dir / "provenance"),
            "target repositories": leaks_in_git(used_repo) + leaks_in_git(leaked_repo),
            "temporal history": asyncio.run(leaks_in_histories(f"127.0.0.1:{up.temporal_port}")),
            "api": api,
            "agency up output": leaks_in_files(up.root),
        }
    )
