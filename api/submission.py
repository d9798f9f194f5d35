"""Turning a submitted body into a validated TaskSpec, or the full list of problems.

A task that names a CAWS spec in its repository (`caws_spec: .caws/specs/ID.yaml`, or
just the spec's id) takes its governance from it, read at `base_ref` as CAWS reads it:
a v11 spec is checked by CAWS's rules, a v10 spec goes through CAWS's migration (see
`council.caws`). The repository's policy and waiver files are read too, so that what is
wrong with them is said now: refused (422, every problem with its rule id) when it would
fail this task, otherwise a warning stored with the task (`warnings`), shown by
`GET /tasks/{id}` and `agency show`.
"""

from __future__ import annotations

from typing import Any, NoReturn

import git

from agency.caws_repo import (
    policy_fallback_warning,
    read_policy,
    read_waiver_dir,
    read_waivers,
    resolve_spec,
)
from agency.caws_yaml import read_spec_text
from agency.governance_files import GitFiles, GovernanceFileError, local_repo
from agency.settings import Settings
from api.problems import FieldProblem, ProblemError, invalid
from council.caws import AgencyRules, RepoTree, merge_caws_spec, scope_findings
from council.problems import GovernanceWarning, Problem
from council.spec import TaskSpec
from council.validation import SpecInvalid, parse_task_spec
from council.waiver_files import WaiverReading, broken_warnings, cited_waiver_problems

DEFAULT_CAWS_SPEC = ".caws/working-spec.yaml"
# Warnings stored with one task (a spec listing hundreds of missing paths says so once).
MAX_WARNINGS = 200


def parse_submission(body: Any, settings: Settings | None = None) -> TaskSpec:
    if not isinstance(body, dict):
        raise invalid([FieldProblem(path="", message="the task must be a JSON object")])
    # Warnings are the server's to say: anything submitted under the name is replaced.
    data = {k: v for k, v in body.items() if k != "warnings"}
    files = _repo_files(data)
    warnings: list[GovernanceWarning] = []
    problems: list[Problem] = []
    waivers: list[WaiverReading] = []
    if settings is not None:
        waivers += read_waiver_dir(settings.effective_waivers_dir)
    if data.get("caws_spec") is not None:
        if files is None:
            _refuse_caws_spec(data)
        data, spec_warnings = _with_caws_spec(data, files)
        warnings += spec_warnings
        policy = read_policy(files)
        problems += [_policy_problem(p, policy.file) for p in policy.problems]
        warnings += policy.warnings
        if policy.file is None and settings is not None:
            warnings.append(policy_fallback_warning(settings, files.where))
        waivers += read_waivers(files)
    tree = RepoTree.of(files.tree()) if files is not None else None
    warnings += scope_findings(data.get("scope"), tree, base=files.where if files else "")[1]
    warnings += broken_warnings(waivers)
    waiver_ids = data.get("waiver_ids")
    if isinstance(waiver_ids, list) and all(isinstance(w, str) for w in waiver_ids):
        problems += cited_waiver_problems(waiver_ids, waivers)
    data["warnings"] = [w.model_dump() for w in _capped(warnings)]
    try:
        spec = parse_task_spec(data)
    except SpecInvalid as err:
        problems = [*err.problems, *problems]
        spec = None
    if problems or spec is None:
        raise _invalid(problems, f"the task spec has {len(problems)} problem(s)")
    return spec


def _repo_files(data: dict[str, Any]) -> GitFiles | None:
    """The repository at base_ref when it is local and readable; None otherwise (a
    remote repository, or one the validation step will report as missing)."""
    repo_ref = data.get("repo")
    ref = data.get("base_ref") or "HEAD"
    if not isinstance(repo_ref, str) or not repo_ref or not isinstance(ref, str):
        return None
    try:
        repo = local_repo(repo_ref)
        return None if repo is None else GitFiles(repo, ref)
    except (GovernanceFileError, git.GitError, ValueError):
        return None


def _refuse_caws_spec(data: dict[str, Any]) -> NoReturn:
    """caws_spec was given but the repository cannot be read here: say why."""
    repo_ref = data.get("repo")
    if not isinstance(repo_ref, str) or not repo_ref:
        raise invalid([FieldProblem(path="repo", message="required to read caws_spec")])
    try:
        repo = local_repo(repo_ref)
    except GovernanceFileError as err:
        raise invalid([FieldProblem(path="caws_spec", message=str(err))]) from err
    if repo is None:
        message = "caws_spec can only be read from a local repository"
        raise invalid([FieldProblem(path="caws_spec", message=message)])
    ref = data.get("base_ref") or "HEAD"
    message = f"base_ref {ref!r} does not exist in {repo_ref}"
    raise invalid([FieldProblem(path="caws_spec", message=message)])


def _with_caws_spec(
    data: dict[str, Any], files: GitFiles
) -> tuple[dict[str, Any], list[GovernanceWarning]]:
    """The task with its governance from the CAWS spec it names; refused with every
    problem (and CAWS's rule ids) when CAWS would refuse the spec."""
    name = data.get("caws_spec")
    if not isinstance(name, str) or not name or len(name) > 4096:
        message = "must be a path inside the repo, or a spec id"
        raise invalid([FieldProblem(path="caws_spec", message=message)])
    try:
        path = resolve_spec(files, name)
        text = files.read(path) if path is not None else None
    except GovernanceFileError as err:
        raise invalid([FieldProblem(path="caws_spec", message=str(err))]) from err
    if path is None or text is None:
        message = f"{name} does not exist at {files.where} in {data.get('repo')}"
        raise invalid([FieldProblem(path="caws_spec", message=message)])
    reading = read_spec_text(text, file=path)
    if reading.governance is None or reading.problems:
        problems = [_prefixed(p, "caws_spec", None) for p in reading.problems]
        raise _invalid(problems, f"the CAWS spec {path} has {len(problems)} problem(s)")
    merged = merge_caws_spec({**data, "caws_spec": path}, reading.governance)
    return merged, reading.warnings


def _capped(warnings: list[GovernanceWarning]) -> list[GovernanceWarning]:
    """At most MAX_WARNINGS are stored with a task; the last one says how many more."""
    if len(warnings) <= MAX_WARNINGS:
        return warnings
    rest = len(warnings) - MAX_WARNINGS + 1
    more = GovernanceWarning(
        rule=AgencyRules.WARNINGS_TRUNCATED,
        message=f"{rest} more warning(s) not stored; `agency caws check` lists them all",
    )
    return [*warnings[: MAX_WARNINGS - 1], more]


def _prefixed(problem: Problem, root: str, file: str | None) -> Problem:
    """A problem of a whole file (no path) is reported at `root`, naming the file."""
    if problem.path:
        return problem
    message = f"{file}: {problem.message}" if file else problem.message
    return Problem(path=root, message=message, rule=problem.rule)


def _policy_problem(problem: Problem, file: str | None) -> Problem:
    # The repository's policy is not a field of the task: name the file and the field.
    where = f"{file} {problem.path}" if problem.path else str(file)
    return Problem(path="policy", message=f"{where}: {problem.message}", rule=problem.rule)


def _invalid(problems: list[Problem], detail: str) -> ProblemError:
    return invalid(
        [FieldProblem(path=p.path, message=p.message, rule=p.rule) for p in problems],
        detail=detail,
    )


__all__ = ["DEFAULT_CAWS_SPEC", "ProblemError", "parse_submission"]
