"""The package's public API is importable from `council`."""

from __future__ import annotations

import ast
from pathlib import Path

import council
from tests.council.factories import make_ctx, make_policy, make_spec, make_waiver


def test_public_api_exports() -> None:
    for name in council.__all__:
        assert getattr(council, name) is not None, name
    assert callable(council.parse_task_spec)
    assert callable(council.decide)
    assert callable(council.run_all)


def test_council_imports_nothing_with_io() -> None:
    """council/ must stay pure: only the standard library's pure modules and pydantic."""
    allowed = {
        "__future__",
        "collections",
        "dataclasses",
        "datetime",
        "fnmatch",
        "functools",
        "re",
        "typing",
        "pydantic",
        "council",
    }
    root = Path(council.__file__).parent
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_policy_and_context_survive_json_round_trip() -> None:
    # They travel through Temporal's pydantic data converter.
    policy = make_policy(thresholds={"T2": 0.7}, min_approvers={"1": 3})
    assert council.Policy.model_validate_json(policy.model_dump_json()) == policy
    ctx = make_ctx(
        spec=make_spec(waiver_ids=["WV-0100"], blast_radius={"modules": ["src/"]}),
        policy=policy,
        waivers={"WV-0100": make_waiver()},
    )
    again = council.JudgeContext.model_validate_json(ctx.model_dump_json(by_alias=True))
    assert again == ctx
    assert council.run_all(again) == council.run_all(ctx)
