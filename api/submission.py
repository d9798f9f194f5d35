"""Turning a submitted body into a validated TaskSpec, or the full list of problems."""

from __future__ import annotations

from typing import Any

from agency.governance_files import (
    GovernanceFileError,
    local_repo,
    read_repo_file,
    read_yaml_text,
)
from api.problems import FieldProblem, ProblemError, invalid
from council.spec import TaskSpec
from council.validation import SpecInvalid, merge_caws_spec, parse_task_spec

DEFAULT_CAWS_SPEC = ".caws/working-spec.yaml"


def _with_caws_spec(body: dict[str, Any]) -> dict[str, Any]:
    """When the body names a CAWS spec in its repo, the governance half comes from it."""
    path = body.get("caws_spec")
    if path is None:
        return body
    if not isinstance(path, str) or not path or len(path) > 4096:
        raise invalid([FieldProblem(path="caws_spec", message="must be a path inside the repo")])
    repo_ref = body.get("repo")
    if not isinstance(repo_ref, str) or not repo_ref:
        raise invalid([FieldProblem(path="repo", message="required to read caws_spec")])
    ref = body.get("base_ref") or "HEAD"
    try:
        repo = local_repo(repo_ref)
        if repo is None:
            raise GovernanceFileError("caws_spec can only be read from a local repository")
        text = read_repo_file(repo, str(ref), path)
        if text is None:
            raise GovernanceFileError(f"{path} does not exist at {ref} in {repo_ref}")
        caws = read_yaml_text(text, path)
    except GovernanceFileError as err:
        raise invalid([FieldProblem(path="caws_spec", message=str(err))]) from err
    if not isinstance(caws, dict):
        raise invalid([FieldProblem(path="caws_spec", message=f"{path} is not a mapping")])
    return merge_caws_spec(body, caws)


def parse_submission(body: Any) -> TaskSpec:
    if not isinstance(body, dict):
        raise invalid([FieldProblem(path="", message="the task must be a JSON object")])
    data = _with_caws_spec(body)
    try:
        return parse_task_spec(data)
    except SpecInvalid as err:
        raise invalid(
            [FieldProblem(path=p.path, message=p.message) for p in err.problems],
            detail=f"the task spec has {len(err.problems)} problem(s)",
        ) from err


__all__ = ["DEFAULT_CAWS_SPEC", "ProblemError", "parse_submission"]
