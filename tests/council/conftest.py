"""Fixtures for the council tests: the real CAWS files in tests/fixtures/caws."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from council.policy import Policy, parse_policy
from council.waivers import Waiver, parse_waiver

# Real CAWS files (see its README), kept in the repository so that any clone tests them.
CAWS_DIR = Path(__file__).parents[1] / "fixtures" / "caws"
SPEC_NAMES = (
    "AUTH-BINDING-BRIDGE-001",
    "CAWS-DEFECT-BUILD-CLI-NPX-NPM11-01",
    "CAWS-DOC-CHECK-DRIFT-FIX-001",
    "CAWS-GIT-SPAWN-COST-001",
    "CAWS-HOOKS-CLI-CWD-LEAK-001",
    "test-feature",
)
COMPLETE_SPECS = SPEC_NAMES[:-1]


def load_yaml(relative: str) -> Any:
    return yaml.safe_load((CAWS_DIR / relative).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def caws_policy() -> Policy:
    return parse_policy(load_yaml("policy.yaml"))


@pytest.fixture(scope="session")
def caws_waivers() -> dict[str, Waiver]:
    waivers = [parse_waiver(load_yaml(f"waivers/{n}.yaml")) for n in ("WV-0001", "WV-2723")]
    return {w.id: w for w in waivers}
