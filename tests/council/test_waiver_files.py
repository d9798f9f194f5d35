"""Waiver files one by one: a broken file is only its own waiver's problem."""

from __future__ import annotations

from typing import Any

from council.waiver_files import (
    WaiverReading,
    broken_warnings,
    cited_waiver_problems,
    duplicate_warnings,
    read_waiver,
    usable_files,
    waiver_id_of_file,
)
from council.waivers import parse_waiver


def kernel_waiver(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "FEAT-7-SCOPE-01",
        "title": "A scope exception",
        "status": "active",
        "gates": ["scope_boundary"],
        "reason": "a peer session's files",
        "approved_by": "darian",
        "created_at": "2026-08-15T19:31:08.569Z",
        "expires_at": "2099-08-22T00:00:00Z",
        "scope": {"spec_id": "FEAT-7"},
    }
    data.update(overrides)
    return data


def readings() -> list[WaiverReading]:
    return [
        read_waiver(kernel_waiver(), file=".caws/waivers/FEAT-7-SCOPE-01.yaml"),
        read_waiver(kernel_waiver(id="WV-0002", approved_by=""), file=".caws/waivers/WV-0002.yaml"),
        read_waiver(kernel_waiver(id="WV-0003"), file="a/WV-0003.yaml"),
        read_waiver(kernel_waiver(id="WV-0003", title="Another one"), file="b/WV-0003.yaml"),
    ]


def test_kernel_waiver_with_a_spec_style_id_is_valid_and_targets_its_spec() -> None:
    reading = read_waiver(kernel_waiver())
    assert reading.valid and reading.generation == "v11"
    waiver = parse_waiver(reading.data or {})
    assert waiver.targets() == ["FEAT-7"]


def test_every_broken_rule_is_listed_the_kernels_first() -> None:
    reading = read_waiver(kernel_waiver(id="x", title="abc", status="on", gates=[], reason=""))
    assert [p.rule for p in reading.problems] == [
        "waiver.schema.invalid_id",
        "waiver.schema.invalid_title",
        "waiver.schema.invalid_status",
        "waiver.schema.invalid_gates",
        "waiver.schema.invalid_reason",
    ]


def test_revocation_record_goes_with_revoked_and_only_with_it() -> None:
    active = read_waiver(kernel_waiver(revocation={"revoked_at": "2026-01-01T00:00:00Z"}))
    assert [p.rule for p in active.problems] == [
        "waiver.schema.active_status_carries_revocation_record"
    ]
    revoked = read_waiver(
        kernel_waiver(status="revoked", revocation={"revoked_at": "2026-01-01T00:00:00Z"})
    )
    assert revoked.valid


def test_scope_and_constraints_shapes() -> None:
    assert read_waiver(kernel_waiver(scope="FEAT-7")).problems[0].path == "scope"
    assert read_waiver(kernel_waiver(scope={"spec_id": 7})).problems[0].path == "scope.spec_id"
    bad_uses = read_waiver(kernel_waiver(constraints={"max_uses": -1}))
    assert bad_uses.problems[0].path == "constraints"
    assert read_waiver(kernel_waiver(constraints={"max_uses": 3})).valid


def test_a_broken_file_is_named_by_its_id_or_its_file_name() -> None:
    assert read_waiver({"title": "no id"}, file=".caws/waivers/WV-0009.yaml").waiver_id == "WV-0009"
    assert waiver_id_of_file("x\\y\\WV-1.yml") == "WV-1"
    assert waiver_id_of_file(None) is None


def test_only_tasks_citing_a_broken_waiver_get_a_problem() -> None:
    found = readings()
    assert cited_waiver_problems(["FEAT-7-SCOPE-01"], found) == []
    assert cited_waiver_problems([], found) == []
    [problem] = cited_waiver_problems(["FEAT-7-SCOPE-01", "WV-0002"], found)
    assert problem.path == "waiver_ids[1]"
    assert problem.rule == "waiver.schema.invalid_approved_by"  # CAWS's own rule for it
    assert ".caws/waivers/WV-0002.yaml" in problem.message


def test_two_files_claiming_one_id_are_both_set_aside() -> None:
    found = readings()
    assert [d["id"] for d in usable_files(found)] == ["FEAT-7-SCOPE-01"]
    [duplicate] = duplicate_warnings(found)
    assert duplicate.rule == "agency.waiver.duplicate_id"
    [problem] = cited_waiver_problems(["WV-0003"], found)
    assert problem.rule == "agency.waiver.duplicate_id"


def test_broken_files_are_reported_as_warnings() -> None:
    [warning] = broken_warnings(readings())
    assert warning.rule == "waiver.schema.invalid_approved_by"
    assert warning.file == ".caws/waivers/WV-0002.yaml"
    assert "set aside" in warning.message


def test_v10_waiver_checked_against_the_v10_schema() -> None:
    v10 = {
        "id": "WV-0200",
        "applies_to": "FEAT-1",
        "gates": ["budget_limit"],
        "delta": {"max_files": 1, "max_loc": 10},
        "reason_code": "other",
        "expires_at": "2099-01-31T00:00:00Z",
        "risk_owner": "alice",
        "approvers": [{"handle": "bob"}],
        "status": "proposed",
    }
    assert read_waiver(v10).valid
    negative = read_waiver({**v10, "delta": {"max_files": -1}})
    assert [p.path for p in negative.problems] == ["delta.max_files"]
