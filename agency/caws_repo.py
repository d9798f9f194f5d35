"""A repository's CAWS governance, found where CAWS (old and new) keeps it.

- specs: `.caws/specs/*.yaml` (CAWS v11, one per feature), `.caws/working-spec.yaml`
  (the v10 singleton) and older `.caws/*spec*.yaml` files (some of which are not working
  specs at all: those are listed as such and otherwise left alone);
- policy: `.caws/policy.yaml`, else the older `.caws/policy/tier-policy.json`, else none
  (the caller's fallback applies, and a warning says which);
- waivers: `.caws/waivers/*.yaml`, each file read on its own (a broken one is only its
  own problem).

Used by the API at submission, by `validate_task`, and by `agency caws list|check`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agency.caws_yaml import load_core_yaml, read_spec_text, read_waiver_text, yaml_error_message
from agency.governance_files import CAWS_DIR, GovernanceFileError, RepoFiles, WorktreeFiles
from agency.settings import Settings
from council.caws import RepoTree, SpecReading, scope_findings
from council.caws.rules import AgencyRules
from council.policy import DEFAULT_BUDGETS, PolicyInvalid, parse_policy, policy_from_tier_policy
from council.problems import GovernanceWarning, Problem
from council.waiver_files import WaiverReading

SPECS_DIR = f"{CAWS_DIR}/specs"
WAIVERS_DIR = f"{CAWS_DIR}/waivers"
WORKING_SPEC = f"{CAWS_DIR}/working-spec.yaml"
POLICY_FILE = f"{CAWS_DIR}/policy.yaml"
LEGACY_POLICY_FILE = f"{CAWS_DIR}/policy/tier-policy.json"
_YAML = (".yaml", ".yml")


@dataclass
class PolicyReading:
    """The repository's policy: its data (None when it has none), from which file."""

    data: dict[str, Any] | None = None
    file: str | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[GovernanceWarning] = field(default_factory=list)


@dataclass
class SpecFile:
    path: str
    reading: SpecReading
    # Found by the older `.caws/*spec*.yaml` pattern rather than where specs live.
    older_layout: bool = False


def find_spec_files(files: RepoFiles) -> list[tuple[str, bool]]:
    """(path, older_layout) of every candidate spec, v11 layout first."""
    found = [
        (f"{SPECS_DIR}/{name}", False) for name in files.listdir(SPECS_DIR) if name.endswith(_YAML)
    ]
    for name in files.listdir(CAWS_DIR):
        if not name.endswith(_YAML) or "spec" not in name:
            continue
        path = f"{CAWS_DIR}/{name}"
        found.append((path, path != WORKING_SPEC))
    return found


def read_specs(files: RepoFiles, tree: RepoTree | None = None) -> list[SpecFile]:
    """Every spec file, read and checked (scope entries too, against `tree`)."""
    out = []
    for path, older in find_spec_files(files):
        reading = read_spec_file(files, path, tree)
        out.append(SpecFile(path=path, reading=reading, older_layout=older))
    return out


def read_spec_file(files: RepoFiles, path: str, tree: RepoTree | None = None) -> SpecReading:
    text = files.read(path)
    if text is None:
        raise GovernanceFileError(f"{path} does not exist at {files.where}")
    reading = read_spec_text(text, file=path)
    if reading.governance is not None:
        problems, warnings = scope_findings(
            reading.governance.get("scope"), tree, file=path, base=files.where
        )
        reading.problems += problems
        reading.warnings += warnings
    return reading


def resolve_spec(files: RepoFiles, name: str) -> str | None:
    """A spec named by its path in the repository, or by its id (`CAWS-GIT-SPAWN-001`)."""
    if files.read(name) is not None:
        return name
    for path, _ in find_spec_files(files):
        if path.rsplit("/", 1)[-1].rsplit(".", 1)[0] == name:
            return path
    for path, _ in find_spec_files(files):
        reading = read_spec_text(files.read(path) or "", file=path)
        if reading.spec_id == name:
            return path
    return None


def read_waivers(files: RepoFiles) -> list[WaiverReading]:
    return [
        read_waiver_text(files.read(f"{WAIVERS_DIR}/{name}") or "", file=f"{WAIVERS_DIR}/{name}")
        for name in files.listdir(WAIVERS_DIR)
        if name.endswith(_YAML)
    ]


def read_waiver_dir(directory: Path) -> list[WaiverReading]:
    """The waivers directory of the settings (AGENCY_WAIVERS_DIR), file by file."""
    if not directory.is_dir():
        return []
    return read_waivers(_DirAsRepo(directory))


class _DirAsRepo(WorktreeFiles):
    # The settings' waivers directory holds the files directly, not under .caws/waivers.
    def listdir(self, directory: str) -> list[str]:
        return super().listdir(".") if directory == WAIVERS_DIR else []

    def read(self, path: str) -> str | None:
        return super().read(path.removeprefix(f"{WAIVERS_DIR}/"))


def read_policy(files: RepoFiles) -> PolicyReading:
    """`.caws/policy.yaml`, else `.caws/policy/tier-policy.json`, else no policy."""
    text = files.read(POLICY_FILE)
    if text is not None:
        try:
            data = load_core_yaml(text)
        except yaml.YAMLError as err:
            return _policy_problem(POLICY_FILE, f"not valid YAML: {yaml_error_message(err)}")
        if not isinstance(data, dict):
            return _policy_problem(POLICY_FILE, "a policy must be a mapping")
        return _checked(PolicyReading(data=data, file=POLICY_FILE))
    text = files.read(LEGACY_POLICY_FILE)
    if text is None:
        return PolicyReading()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        message = f"not valid JSON: {err.msg} at line {err.lineno}"
        return _policy_problem(LEGACY_POLICY_FILE, message)
    message = (
        f"policy read from the older {LEGACY_POLICY_FILE}: its risk-tier budgets (max_files, "
        "max_loc) apply; its other settings (min_branch, min_mutation, requires_contracts, "
        f"allowed_modes, ...) are kept but not enforced. CAWS now reads {POLICY_FILE}"
    )
    warning = GovernanceWarning(
        rule=AgencyRules.POLICY_LEGACY_TIER_POLICY, message=message, file=LEGACY_POLICY_FILE
    )
    reading = PolicyReading(
        data=policy_from_tier_policy(raw), file=LEGACY_POLICY_FILE, warnings=[warning]
    )
    return _checked(reading)


def policy_fallback_warning(settings: Settings, where: str) -> GovernanceWarning:
    """Said on a task whose repository has no policy file: which policy applies instead."""
    if settings.policy_file is not None:
        instead = f"the agency's policy file {settings.policy_file} (AGENCY_POLICY_FILE)"
    else:
        budgets = ", ".join(
            f"tier {t}: {files} files / {loc} lines" for t, (files, loc) in DEFAULT_BUDGETS.items()
        )
        instead = f"the built-in defaults ({budgets})"
    message = f"no {POLICY_FILE} or {LEGACY_POLICY_FILE} at {where}: {instead} apply"
    return GovernanceWarning(rule=AgencyRules.POLICY_DEFAULTS, message=message)


def _checked(reading: PolicyReading) -> PolicyReading:
    try:
        parse_policy(reading.data or {})
    except PolicyInvalid as err:
        reading.problems = [
            Problem(path=p.path, message=p.message, rule=AgencyRules.POLICY_INVALID)
            for p in err.problems
        ]
    return reading


def _policy_problem(file: str, message: str) -> PolicyReading:
    return PolicyReading(
        file=file, problems=[Problem(path="", message=message, rule=AgencyRules.POLICY_INVALID)]
    )
