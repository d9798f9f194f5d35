"""Where promtool is: `make promtool` puts Debian's under .venv/opt/prometheus/; one on the
PATH (or in .venv/bin/) does as well."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CANDIDATES = (
    ROOT / ".venv/opt/prometheus/usr/bin/promtool",
    ROOT / ".venv/bin/promtool",
)


def find_promtool() -> Path | None:
    for candidate in CANDIDATES:
        if candidate.is_file():
            return candidate
    found = shutil.which("promtool")
    return Path(found) if found else None


PROMTOOL = find_promtool()
