"""Tasks run against a repository laid out like the CAWS project's own (many specs, many
waivers, one broken): only a task citing the broken waiver is affected; in-scope changes
pass the scope judge and out-of-scope ones are rejected; a v10 spec runs with its
migration warnings shown."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import ApiUnderTest
from tests.api.test_tasks import finished, wait_task
from tests.support.caws_repos import BROKEN_WAIVER, add_caws_files


def task(api: ApiUnderTest, spec: str, scenario: str, **extra: Any) -> dict[str, Any]:
    return {
        "caws_spec": spec,
        "repo": str(api.h.repo),
        "agent": {"argv": ["python3", "tools/agent.py"], "env": {"AGENT_SCENARIO": scenario}},
        "gates": [
            {"name": "tests", "argv": ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider"]}
        ],
        "execution_mode": "dry_run",
        "max_iterations": 1,
        **extra,
    }


def judged(body: dict[str, Any], rule: str) -> bool:
    return any(v["rule"] == rule for j in body["verdicts"] for v in j["violations"])


async def test_only_tasks_citing_the_broken_waiver_are_affected(api: ApiUnderTest) -> None:
    add_caws_files(api.h.repo)
    bodies = {
        "in_scope": task(api, "FEAT-0101", "in_scope"),
        "out_of_scope": task(api, "FEAT-0101", "out_of_scope"),
        "waived": task(
            api, "FEAT-0101", "out_of_scope", waiver_ids=["FEAT-0101-SCOPE-CONCURRENCY-01"]
        ),
        "v10": task(api, ".caws/working-spec.yaml", "in_scope"),
    }
    cited = await api.http.post(
        "/api/v1/tasks", json=task(api, "FEAT-0101", "in_scope", waiver_ids=[BROKEN_WAIVER])
    )
    assert cited.status_code == 422
    [error] = cited.json()["errors"]
    assert (error["path"], error["rule"]) == ("waiver_ids[0]", "waiver.schema.invalid_approved_by")

    created = {}
    for name, data in bodies.items():
        response = await api.http.post("/api/v1/tasks", json=data)
        assert response.status_code == 201, response.text
        created[name] = response.json()
    done = dict(
        zip(
            created,
            await asyncio.gather(
                *(wait_task(api.http, t["id"], finished, within=120) for t in created.values())
            ),
            strict=True,
        )
    )

    assert done["in_scope"]["phase"] == "completed", done["in_scope"]["error"]
    assert done["out_of_scope"]["phase"] == "rejected"
    assert judged(done["out_of_scope"], "path_outside_scope")
    # A cited, valid CAWS v11 waiver for scope_boundary waives the out-of-scope path.
    assert done["waived"]["phase"] == "completed", done["waived"]["error"]
    assert judged(done["waived"], "scope_waived")

    for body in done.values():
        broken = [w for w in body["warnings"] if w["file"] == f".caws/waivers/{BROKEN_WAIVER}.yaml"]
        assert [w["rule"] for w in broken] == ["waiver.schema.invalid_approved_by"]

    v10 = done["v10"]
    assert v10["phase"] == "completed", v10["error"]
    assert (v10["caws_id"], v10["mode"], v10["risk_tier"]) == ("FEAT-0102", "feature", 2)
    shown = (await api.http.get(f"/api/v1/tasks/{v10['id']}")).json()["warnings"]
    assert {
        "spec.migrate.safe_rename",
        "spec.migrate.mode_overridden_from_type",
        "agency.migrate.change_budget_kept",
    } <= {w["rule"] for w in shown}
    listed = (await api.http.get("/api/v1/tasks?limit=10")).json()["items"]
    assert all(item["warnings"] for item in listed)
