"""What a model-driven agent is asked, and how its answer becomes a patch.

The model sees the task (title, prompt, acceptance criteria, the judges' feedback) and
the current text of a bounded set of files in scope, and is asked for one unified diff.
Small models wrap diffs in prose or code fences; `extract_diff` keeps the diff part. What
it returns is applied by `git apply` in the sandbox, which is the judge of whether it is
a diff at all: a reply with no usable diff becomes an agent failure with git's reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agency.governance_files import GovernanceFileError, local_repo
from agency.inference.types import ChatMessage
from agency.redaction import redact
from council.spec import TaskSpec

# Bounds on what the model reads: a small model reads a few hundred tokens per second
# at best on a CPU, and its context is small.
MAX_FILES = 8
MAX_FILE_CHARS = 2000
MAX_CONTEXT_CHARS = 4000

SYSTEM = (
    "You are a careful software engineer working in a git repository. Reply with exactly "
    "one unified diff (the format of `git diff`, paths prefixed a/ and b/) that makes the "
    "requested change, and nothing else. Only change files under: {scope}."
)

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_DIFF_START = re.compile(r"^(diff --git |--- )", re.MULTILINE)


def scope_files(repo: str, ref: str, scope_in: Sequence[str]) -> dict[str, str]:
    """Text of files under `scope_in` at `ref` in a local repository (bounded)."""
    try:
        handle = local_repo(repo)
    except GovernanceFileError:
        return {}
    if handle is None or not scope_in:
        return {}
    try:
        names = handle.git.ls_tree("-r", "--name-only", ref, "--", *scope_in).splitlines()
    except Exception:
        return {}
    files: dict[str, str] = {}
    used = 0
    for name in sorted(names)[: MAX_FILES * 4]:
        if len(files) >= MAX_FILES or used >= MAX_CONTEXT_CHARS:
            break
        try:
            text = handle.git.show(f"{ref}:{name}")
        except Exception:
            continue
        if "\0" in text:
            continue  # binary
        text = text[: min(MAX_FILE_CHARS, MAX_CONTEXT_CHARS - used)]
        files[name] = text
        used += len(text)
    return files


def draft_messages(spec: TaskSpec, files: dict[str, str], feedback: str) -> list[ChatMessage]:
    scope = ", ".join(spec.scope.in_) or "the repository"
    parts = [f"Task {spec.id}: {spec.title}"]
    if spec.agent.prompt:
        parts.append(spec.agent.prompt)
    if spec.acceptance:
        parts.append(
            "Acceptance criteria:\n"
            + "\n".join(
                f"- {a.id}: given {a.given}, when {a.when}, then {a.then}" for a in spec.acceptance
            )
        )
    for name, text in files.items():
        # The repository's files go to the model and into the stored prompt: credentials
        # committed there are redacted on the way.
        parts.append(f"Current {name}:\n```\n{redact(text)}\n```")
    if feedback:
        parts.append(f"Feedback on the previous attempt:\n{feedback}")
    parts.append("Reply with the unified diff only.")
    return [
        ChatMessage(role="system", content=SYSTEM.format(scope=scope)),
        ChatMessage(role="user", content="\n\n".join(parts)),
    ]


def extract_diff(reply: str) -> tuple[str, bool]:
    """(the patch to apply, whether it looks like a diff). Without a recognisable diff the
    whole reply is returned, for `git apply` to refuse with its reason."""
    fences = _FENCE.findall(reply)
    for lang, body in fences:
        if lang.lower() in ("diff", "patch", "udiff"):
            return _with_newline(body), True
    for _lang, body in fences:
        found = _DIFF_START.search(body)
        if found and "+++ " in body:
            return _with_newline(body[found.start() :]), True
    start = _DIFF_START.search(reply)
    if start and "+++ " in reply[start.start() :]:
        return _with_newline(reply[start.start() :]), True
    return _with_newline(reply), False


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"
