"""The OpenAPI contract: complete, and kept by the running app under schemathesis.

Schemathesis generates requests from the schema (valid ones and, in negative mode,
invalid ones) against the app on a real PostgreSQL database and Temporal, and checks
every answer: no server error, a documented status code, content type and headers, a
body matching the documented schema, and invalid data rejected. The number of examples
per operation is bounded so that the run fits in CI.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.testing import WorkflowEnvironment

from agency.asgi_thread import serve_app
from agency.db.migrate import upgrade_database
from agency.settings import Settings
from api.app import create_app
from tests.support.db_fixtures import pg_url
from tests.support.keys import bearer, make_key

__all__ = ["pg_url"]

# Raise with AGENCY_FUZZ_EXAMPLES for a deeper run than CI's.
EXAMPLES_PER_OPERATION = int(os.environ.get("AGENCY_FUZZ_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
HEALTH_CHECKS = [check for check in CHECKS if check is not not_a_server_error]


def checks_for(path: str) -> list[Any]:
    # /health answers 503 by design here (nobody polls the queues): a documented
    # "degraded", not a server error; its status, schema and headers are still checked.
    return HEALTH_CHECKS if path == "/health" else CHECKS


# Endless streams cannot be fuzzed request by request; their own tests cover them.
STREAMS = r"/metrics/stream$"


@pytest.fixture
async def fuzz_target(
    dev_env: WorkflowEnvironment, pg_url: str, tmp_path: Path
) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """The app on a fresh PostgreSQL database; workflows start but no worker runs them."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=pg_url,
        task_queue=f"fuzz-{uuid.uuid4()}",
        temporal_address=dev_env.client.service_client.config.target_host,
        rate_limit_admin=1_000_000,
    )
    upgrade_database(pg_url)
    key = await make_key(pg_url, "fuzzer", "admin")
    with serve_app(create_app(settings)) as url:
        yield url, bearer(key)


def test_the_app_keeps_its_contract_under_generated_requests(
    fuzz_target: tuple[str, dict[str, str]],
) -> None:
    url, auth = fuzz_target
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json").exclude(path_regex=STREAMS)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis_settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                checks = checks_for(case.operation.path)
                case.call_and_validate(base_url=url, headers=auth, checks=checks, timeout=30)

            try:
                run()
            except Unsatisfiable:
                continue  # no invalid request exists for an operation without inputs
            except Exception as err:  # collect every operation's failure, then report all
                failures.append(f"{operation.label} [{mode.value}]: {err}")
    assert not failures, "\n\n".join(failures)


def test_every_route_documents_its_errors_and_headers() -> None:
    schema = create_app(Settings()).openapi()
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
