"""Redaction of text that leaves a sandbox or reaches a model: secret values and
credentials are replaced by `[redacted:NAME]` before anything is stored, streamed or shown.

Two kinds of hits: the values of the secrets a task named (replaced by the secret's
name), and anything that looks like a credential by its value alone (a private key
block, an AWS key id, a GitHub token; replaced by the kind's label). The counts say
what was found, never what it was, so they can go in the audit.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from council.credentials import VALUE_PATTERNS

MARKER = "[redacted:{}]"
# Marker names of the credential kinds (council.credentials.VALUE_PATTERNS, same order).
_KIND_NAMES = ("private-key", "aws-access-key-id", "github-token")
# A secret shorter than this is not searched for: "a" would redact every "a" and say
# nothing useful. Such values should not be secrets in the first place.
MIN_SECRET_LENGTH = 4


@dataclass
class Redactor:
    """Redacts the given secret values and known credential shapes; keeps the counts."""

    secrets: Mapping[str, str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        values = sorted(
            ((v, k) for k, v in self.secrets.items() if len(v) >= MIN_SECRET_LENGTH),
            key=lambda item: -len(item[0]),
        )
        self._names = {value: name for value, name in values}
        self._pattern = (
            re.compile("|".join(re.escape(value) for value, _ in values)) if values else None
        )

    def text(self, text: str, *, count: bool = True) -> str:
        """`text` redacted; `count=False` for a second view of text already counted (the
        tail of a log file that was redacted itself)."""
        found: Counter[str] = Counter()

        def secret_marker(match: re.Match[str]) -> str:
            name = self._names[match.group(0)]
            found[name] += 1
            return MARKER.format(name)

        if self._pattern is not None:
            text = self._pattern.sub(secret_marker, text)
        for (_, pattern), kind in zip(VALUE_PATTERNS, _KIND_NAMES, strict=True):
            text, hits = pattern.subn(MARKER.format(kind), text)
            found[kind] += hits
        if count:
            self.counts.update(+found)
        return text

    def data(self, data: bytes) -> bytes:
        """Bytes (a diff, a log file) as UTF-8 with undecodable bytes kept as they are."""
        return self.text(data.decode("utf-8", errors="surrogateescape")).encode(
            "utf-8", errors="surrogateescape"
        )


def redact(text: str) -> str:
    """Known credential shapes only (no task secrets): chat messages, model prompts."""
    return Redactor().text(text)
