"""The OpenAPI contract: complete, and kept by the running app under schemathesis.

`test_schemathesis_finds_no_contract_failure` runs schemathesis 4 (`st run`, every check)
against the app over real HTTP on loopback, with a fresh PostgreSQL database, the
Temporal dev server, a workflow worker (tasks created by the run really run, so that
interventions are answered) and the payload codec on. Its phases run side by side, one
`st` process each, each with an admin key of its own tenant so that what one creates or
revokes is invisible to the others:

- examples and coverage: values derived from every keyword of the schema, valid and
  invalid, and every undeclared method on every path (405 with `Allow`);
- fuzzing: a fixed number of generated requests per operation and mode;
- stateful: scenarios following the document's links from what a POST creates (a task,
  a key, a waiver, a chat session) to the operations on it.

A request answered against the document fails the run: a server error, an undocumented
status, header or content type, a body not matching its schema, a valid request refused
or an invalid one accepted, a deleted resource still there, a created one missing. The
few rules JSON Schema cannot say are made realistic by tests/api/contract_hooks.py.

For a deeper run than CI's, raise AGENCY_FUZZ_EXAMPLES (per operation and mode, default
5) and AGENCY_STATEFUL_EXAMPLES (default 30), and change AGENCY_FUZZ_SEED (default 1);
AGENCY_CONTRACT_PHASES=coverage,fuzzing,stateful picks which runs to make.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from agency.asgi_thread import serve_app
from agency.db.migrate import upgrade_database
from agency.db.task_pages import CURSOR_PATTERN, _decode_cursor
from agency.settings import Settings
from agency.temporal_client import connect
from agency.worker import running_worker
from api.app import create_app
from api.contract import JSON_VALUE, NO_NUL
from api.methods import declared_methods, path_table
from api.routes.streams import SEQ_PATTERN
from tests.support.db_fixtures import pg_url
from tests.support.keys import bearer, make_key
from tests.support.repos import make_repo
from workflows.task import TaskWorkflow

__all__ = ["pg_url"]

ST = Path(sys.executable).parent / "schemathesis"
HOOKS = "tests.api.contract_hooks"
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_PER_OPERATION = int(os.environ.get("AGENCY_FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("AGENCY_FUZZ_SEED", "1"))
STATEFUL_EXAMPLES = int(os.environ.get("AGENCY_STATEFUL_EXAMPLES", "30"))
# Each `st` process is stopped (and the test fails) past this; the three take about a
# minute side by side on two CPUs.
RUN_TIMEOUT_S = 240
PHASES = {"coverage": "examples,coverage", "fuzzing": "fuzzing", "stateful": "stateful"}
# Links the stateful phase must have followed at least. Keys, waivers and chat sessions
# have 6 between them: more means it followed links from created tasks too.
MIN_LINKS_FOLLOWED = 10

CONFIG = """\
seed = {seed}
hooks = "{hooks}"
workers = 1
request-timeout = 30
# An event stream is read for this many events, then closed.
max-stream-events = 3

[cache]
# No state kept between runs (nor written into the repository).
enabled = false

[checks]
enabled = true

[generation]
max-examples = {examples}
database = "none"

[phases.stateful]
max-steps = 6
generation.max-examples = {stateful_examples}

[phases.stateful.inference]
# The document's own links only.
algorithms = []

[[operations]]
include-path = "/health"
# 503 is /health's documented "degraded": no executor polls in this test.
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]

[[operations]]
include-name = "GET /api/v1/metrics/stream"
# One snapshot, then the stream ends (unbounded, it sends one a second).
parameters = {{ count = 1 }}

# Loading a model takes seconds of CPU and swapping one changes the model every later
# test of this process gets: these two are run with a name no catalog has (404, every
# check still applies); tests/api/test_models.py loads and swaps for real.
[[operations]]
include-name = "POST /api/v1/models/{{name}}/load"
parameters = {{ name = "no-such-model" }}

[[operations]]
include-name = "POST /api/v1/models/swap"
parameters = {{ "body.name" = "no-such-model" }}
"""


@dataclass
class ContractTarget:
    url: str
    repo: Path
    keys: dict[str, str]  # phase -> an admin key of a tenant of its own


def codec_keys() -> dict[str, SecretStr]:
    return {"contract": SecretStr(base64.b64encode(os.urandom(32)).decode())}


@pytest.fixture
async def contract_target(
    dev_env: WorkflowEnvironment, pg_url: str, tmp_path: Path
) -> AsyncIterator[ContractTarget]:
    """The API on a fresh PostgreSQL database, a workflow worker (no executor: tasks wait
    for one, or end early), the codec on, an admin key per phase in a tenant of its own."""
    settings = Settings(
        data_dir=tmp_path / "agency",
        database_url=pg_url,
        task_queue=f"contract-{uuid.uuid4()}",
        executor_task_queue=f"contract-ex-{uuid.uuid4()}",
        temporal_address=dev_env.client.service_client.config.target_host,
        codec_keys=codec_keys(),
        rate_limit_admin=1_000_000,
    )
    settings.data_dir.mkdir()
    upgrade_database(pg_url)
    keys = {phase: await make_key(pg_url, "fuzzer", "admin", f"t-{phase}") for phase in PHASES}
    repo = make_repo(tmp_path / "repo")
    client = await connect(settings, role="worker")
    async with running_worker(client, settings):
        with serve_app(create_app(settings, workflows=[TaskWorkflow])) as url:
            yield ContractTarget(url=url, repo=repo, keys=keys)


async def run_st(target: ContractTarget, phase: str, config: Path) -> tuple[int, str]:
    key = target.keys[phase]
    env = {
        **os.environ,
        "AGENCY_CONTRACT_REPO": str(target.repo),
        "AGENCY_CONTRACT_KEY_ID": key.split("_")[1],
        "NO_COLOR": "1",
    }
    argv = [
        str(ST),
        "--config-file",
        str(config),
        "run",
        f"{target.url}/openapi.json",
        "--phases",
        PHASES[phase],
        "-H",
        f"Authorization: Bearer {key}",
        "--no-color",
    ]
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        out, _ = await process.communicate()
        return -1, f"timed out after {RUN_TIMEOUT_S} s\n" + out.decode(errors="replace")
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def test_schemathesis_finds_no_contract_failure(
    contract_target: ContractTarget, tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        CONFIG.format(
            seed=SEED,
            hooks=HOOKS,
            examples=EXAMPLES_PER_OPERATION,
            stateful_examples=STATEFUL_EXAMPLES,
        )
    )
    started = time.monotonic()
    only = os.environ.get("AGENCY_CONTRACT_PHASES")
    phases = [p for p in PHASES if not only or p in only.split(",")]
    results = await asyncio.gather(*(run_st(contract_target, p, config) for p in phases))
    took = time.monotonic() - started
    report = "\n\n".join(
        f"===== st run --phases {PHASES[phase]}: exit {code}\n{out}"
        for phase, (code, out) in zip(phases, results, strict=True)
    )
    assert all(code == 0 for code, _ in results), report
    if "stateful" in phases:
        stateful = results[phases.index("stateful")][1]
        followed = re.search(r"API Links:\s+(\d+) covered", stateful)
        assert followed and int(followed.group(1)) >= MIN_LINKS_FOLLOWED, stateful
    # The runs kept their credentials to the end (a revoked key would make them 401s).
    async with httpx.AsyncClient(base_url=contract_target.url) as http:
        for key in contract_target.keys.values():
            assert (await http.get("/api/v1/keys/me", headers=bearer(key))).status_code == 200
    print(f"schemathesis: {len(phases)} runs side by side in {took:.1f} s\n{report}")


# ------------------------------------------------------------------ the document itself
def document() -> dict:
    return create_app(Settings()).openapi()


def test_every_route_documents_its_errors_and_headers() -> None:
    schema = document()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            role = operation.get("x-required-role")
            where = f"{method.upper()} {path}"
            if role is not None:
                assert {"401", "429", "503"} <= set(responses), where
                assert ("403" in responses) == (role != "viewer"), where
                assert "Retry-After" in responses["429"]["headers"], where
                for code, response in responses.items():
                    if code.startswith("2"):
                        assert {"RateLimit", "RateLimit-Policy"} <= set(response["headers"]), where
            if method in ("post", "put", "patch"):
                assert "413" in responses, where
            if "{" in path:
                assert "404" in responses, where
            for code, response in responses.items():
                if code[0] in "45" and path != "/health":
                    assert list(response["content"]) == ["application/problem+json"], where
            if "503" in responses and path != "/health":
                assert "Retry-After" in responses["503"]["headers"], where
    post = schema["paths"]["/api/v1/tasks"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in post["parameters"]}
    events = schema["paths"]["/api/v1/tasks/{task_id}/events"]["get"]
    assert "Last-Event-ID" in {p["name"] for p in events["parameters"]}
    assert "text/event-stream" in events["responses"]["200"]["content"]


def _nodes(node: object, where: str = "") -> list[tuple[str, dict]]:
    found: list[tuple[str, dict]] = []
    if isinstance(node, dict):
        found.append((where, node))
        for key, value in node.items():
            if key not in ("if", "not", "enum", "const", "default", "examples", "example"):
                found += _nodes(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _nodes(value, f"{where}/{i}")
    return found


def _request_nodes(schema: dict) -> list[tuple[str, dict]]:
    components = schema["components"]["schemas"]
    roots: list[tuple[str, object]] = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                roots.append((f"{method} {path} {parameter['name']}", parameter["schema"]))
            for media in operation.get("requestBody", {}).get("content", {}).values():
                roots.append((f"{method} {path} body", media["schema"]))
    seen: set[str] = set()
    nodes: list[tuple[str, dict]] = []
    while roots:
        where, root = roots.pop()
        for at, node in _nodes(root, where):
            nodes.append((at, node))
            ref = node.get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            if ref and name not in seen and name != JSON_VALUE:
                seen.add(name)
                roots.append((name, components[name]))
    return nodes


def test_no_request_string_may_hold_nul_and_no_object_takes_anything() -> None:
    nodes = _request_nodes(document())
    assert len(nodes) > 200
    for where, node in nodes:
        kinds = node.get("type")
        kinds = [kinds] if isinstance(kinds, str) else kinds or []
        if "string" in kinds and not {"enum", "const", "format"} & set(node):
            assert "pattern" in node, where
            assert not re.search(node["pattern"], "a\x00b"), where
        if "object" in kinds:
            extra = node.get("additionalProperties")
            assert extra is False or isinstance(extra, dict), where
            if extra is not False:
                assert "propertyNames" in node, where


def test_every_task_operation_is_linked_from_the_task_created() -> None:
    schema = document()
    links = schema["paths"]["/api/v1/tasks"]["post"]["responses"]["201"]["links"]
    linked = {link["operationId"] for link in links.values()}
    task_operations = {
        operation["operationId"]
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/tasks/{task_id}")
        for operation in item.values()
    }
    assert len(task_operations) >= 13
    assert linked == task_operations
    assert {link["parameters"]["task_id"] for link in links.values()} == {"$response.body#/id"}
    for path in ("/api/v1/keys", "/api/v1/waivers", "/api/v1/chat/session"):
        assert schema["paths"][path]["post"]["responses"]["201"]["links"], path


def test_the_streams_document_their_events() -> None:
    paths = document()["paths"]
    events = paths["/api/v1/tasks/{task_id}/events"]["get"]["responses"]["200"]["content"]
    branches = events["text/event-stream"]["schema"]["anyOf"]
    kinds = {branch["properties"]["event"]["const"] for branch in branches}
    assert kinds == {"message", "reconnecting", "resumed", "end"}
    kpis = paths["/api/v1/metrics/stream"]["get"]["responses"]["200"]["content"]
    assert kpis["text/event-stream"]["schema"]["properties"]["event"] == {"const": "kpi"}


def test_undeclared_methods_are_405_naming_the_declared_ones() -> None:
    table = path_table(document())
    assert declared_methods(table, "/api/v1/keys/me") == {"GET"}
    assert declared_methods(table, "/api/v1/keys/0123456789ab") == {"GET", "DELETE"}
    assert declared_methods(table, "/api/v1/keys") == {"GET", "POST"}
    assert declared_methods(table, "/api/v1/tasks/x/pause") == {"POST"}
    assert declared_methods(table, "/docs") is None
    assert declared_methods(table, "/api/v1/tasks//pause") is None


async def test_the_app_answers_405_with_allow(contract_target: ContractTarget) -> None:
    key = contract_target.keys["coverage"]
    async with httpx.AsyncClient(base_url=contract_target.url, headers=bearer(key)) as http:
        for method, path, allow in [
            ("DELETE", "/api/v1/keys/me", "GET"),
            ("OPTIONS", "/api/v1/keys", "GET, POST"),
            ("PUT", "/api/v1/tasks/x/pause", "POST"),
            ("HEAD", "/health", "GET"),
        ]:
            answer = await http.request(method, path)
            assert answer.status_code == 405, (method, path, answer.text)
            assert answer.headers["allow"] == allow, (method, path)
            assert answer.headers["content-type"] == "application/problem+json"
        assert (await http.get("/api/v1/keys/me")).status_code == 200


@settings(max_examples=200, deadline=None)
@given(st.from_regex(CURSOR_PATTERN, fullmatch=True))
def test_every_cursor_the_schema_allows_is_a_position(cursor: str) -> None:
    at, task_id = _decode_cursor(cursor)
    assert at.tzinfo is not None and at.year <= 5200 and task_id


def test_the_patterns_say_what_the_server_checks() -> None:
    seq = re.compile(SEQ_PATTERN)
    assert seq.match("0") and seq.match("2147483647") and not seq.match("2147483648")
    assert not seq.match("007") and not seq.match("")
    assert re.fullmatch(NO_NUL, "any text, même accentuée") and not re.search(NO_NUL, "\x00")
