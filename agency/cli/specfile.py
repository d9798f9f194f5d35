"""Reading a task spec file (YAML or JSON) into the JSON body the API expects."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import yaml

from agency.cli.errors import EXIT_BAD_INPUT, CliError

# `user@host:path` (scp-like git remotes) and `scheme://...` are remote repositories.
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")


def load_spec_file(path: Path, execution_mode: str | None = None) -> dict[str, Any]:
    """Parse SPEC (YAML, or JSON when it ends in .json), apply `--mode`, resolve `repo`.

    Raises CliError (exit 2) when the file is missing, unreadable, unparseable or not a
    mapping. Schema validation is left to the API, which lists every problem at once.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{path}: no such file", EXIT_BAD_INPUT) from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a directory, not a spec file", EXIT_BAD_INPUT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read the file ({exc})", EXIT_BAD_INPUT) from None

    data = _parse(path, text)
    if not isinstance(data, dict):
        kind = "an empty file" if data is None else f"a {type(data).__name__}"
        raise CliError(
            f"{path}: a task spec must be a mapping (key: value pairs), but this is {kind}",
            EXIT_BAD_INPUT,
        )
    spec: dict[str, Any] = _jsonable(data)
    if execution_mode:
        spec["execution_mode"] = execution_mode
    if isinstance(spec.get("repo"), str):
        spec["repo"] = resolve_repo(spec["repo"], path.resolve().parent)
    return spec


def resolve_repo(repo: str, base_dir: Path) -> str:
    """A relative local path is taken relative to the spec file, not to the caller's cwd."""
    if not repo or "://" in repo or _SCP_LIKE.match(repo):
        return repo
    local = Path(repo).expanduser()
    if local.is_absolute():
        return str(local)
    return str((base_dir / local).resolve())


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliError(
                f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                EXIT_BAD_INPUT,
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CliError(f"{path}: not valid YAML: {_yaml_message(exc)}", EXIT_BAD_INPUT) from None


def _yaml_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or "syntax error"
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(exc).replace("\n", " ")


def _jsonable(value: Any) -> Any:
    """YAML gives dates and non-string keys; the API body must be plain JSON."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value
