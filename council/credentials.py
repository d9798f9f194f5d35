"""What looks like a credential: in a change (the technical judge), in an agent's plain
environment (refused at submission: name it in `agent.secrets`), and in text leaving the
sandbox (redacted). Pure and I/O-free.

Some words are spelled with a one-letter class so that this file does not itself
contain what it looks for.
"""

from __future__ import annotations

import re

# Credentials recognisable by their value alone.
VALUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a private key block", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    (
        "a GitHub token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b"),
    ),
)
# A literal assigned to a name that says it is a credential, in source code.
ASSIGNMENT_PATTERN = (
    "a hard-coded password, secret or API key",
    re.compile(
        r"(?i)\b[\w-]*(?:password|passwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token)"
        r"[\w-]*[\"']?\s*(?::\s*[a-z_][\w\[\]., |]*?\s*)?[:=]\s*"
        r"[\"'](?![$<{%])[^\"'\s]{6,}[\"']"
    ),
)
# Where the executor redacted a secret or a credential from the change
# (agency.redaction): the change held it, so it holds a credential.
REDACTED_PATTERN = (
    "a secret value or credential (redacted by the executor)",
    re.compile(r"\[redacted:[A-Za-z0-9_-]+\]"),
)
SOURCE_PATTERNS = (*VALUE_PATTERNS, ASSIGNMENT_PATTERN, REDACTED_PATTERN)

# Variable names that say their value is a credential (API_TOKEN, DB_PASSWORD, ...).
CREDENTIAL_NAME = re.compile(
    r"(?i)(?:^|_)(?:token|passw(?:or)?d|secret|api_?key|access_?key|private_?key|credentials?"
    r"|auth)(?:$|_)"
)
# The name of a secret as an agent sees it: an environment variable name.
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def credential_reason(name: str, value: str) -> str | None:
    """Why a plain environment variable looks like a credential, or None."""
    for what, pattern in VALUE_PATTERNS:
        if pattern.search(value):
            return f"its value looks like {what}"
    if value and CREDENTIAL_NAME.search(name):
        return "its name says it holds a credential"
    return None
