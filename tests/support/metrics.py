"""Reading metrics in tests: this process's registry, a scraped text, and promtool."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

# `make promtool` puts it beside the virtualenv's Python; a system one does as well.
PROMTOOL = Path(sys.executable).parent / "promtool"


def value(name: str, **labels: str) -> float:
    """A sample of this process's registry (0 when the series does not exist yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def total(name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (others summed over)."""
    return sum(
        sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """`name`'s samples in an exposition text, by their sorted labels."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def promtool() -> str:
    found = str(PROMTOOL) if PROMTOOL.exists() else shutil.which("promtool")
    if found is None:
        pytest.skip("promtool not installed: `make promtool` unpacks Debian's prometheus package")
    return found


def promtool_check(text: str) -> None:
    """`promtool check metrics` on `text`: fails the test with promtool's complaints."""
    done = subprocess.run(
        [promtool(), "check", "metrics"],
        input=text.encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    report = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, f"promtool check metrics failed:\n{report}"
