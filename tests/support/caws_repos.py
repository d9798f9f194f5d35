"""A repository laid out like the CAWS project's own: many specs (v11 under .caws/specs,
a v10 working spec, older `.caws/*spec*.yaml` files), many waivers, exactly one broken.

Built from the fixtures (tests/fixtures/caws: real CAWS files; tests/fixtures/caws_shapes:
ours) on top of `make_repo`'s small Python project, whose files (src/, tests/) the specs
FEAT-0101 and FEAT-0102 are scoped to.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.repos import git, make_repo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL = FIXTURES / "caws"
SHAPES = FIXTURES / "caws_shapes"
# Real CAWS v11 specs: valid, scoped to the CAWS project's files (not this repository's).
REAL_SPECS = (
    "AUTH-BINDING-BRIDGE-001",
    "CAWS-DEFECT-BUILD-CLI-NPX-NPM11-01",
    "CAWS-DOC-CHECK-DRIFT-FIX-001",
    "CAWS-GIT-SPAWN-COST-001",
    "CAWS-HOOKS-CLI-CWD-LEAK-001",
)
VALID_WAIVERS = ("WV-0100", "WV-0099", "FEAT-0101-SCOPE-CONCURRENCY-01")
BROKEN_WAIVER = "WV-0300"  # no approved_by: waiver.schema.invalid_approved_by


def add_caws_files(repo: Path, *, policy: bool = True) -> Path:
    caws = repo / ".caws"
    (caws / "specs").mkdir(parents=True)
    (caws / "waivers").mkdir()
    if policy:
        shutil.copy(REAL / "policy.yaml", caws / "policy.yaml")
    for name in (*REAL_SPECS, "test-feature"):  # test-feature: a v10 CAWS refuses
        shutil.copy(REAL / "specs" / f"{name}.yaml", caws / "specs")
    for name in ("FEAT-0101", "PROSE-0002"):
        shutil.copy(SHAPES / "specs" / f"{name}.yaml", caws / "specs")
    shutil.copy(SHAPES / "specs" / "v10-working-spec.yaml", caws / "working-spec.yaml")
    shutil.copy(SHAPES / "specs" / "v10-mixed-acceptance.yaml", caws / "docs-spec.yaml")
    shutil.copy(SHAPES / "specs" / "not-a-spec.yaml", caws / "agent-operating-spec.yaml")
    shutil.copy(REAL / "waivers" / "WV-0001.yaml", caws / "waivers")
    for name in VALID_WAIVERS:
        shutil.copy(SHAPES / "waivers" / f"{name}.yaml", caws / "waivers")
    shutil.copy(SHAPES / "waivers" / "v10" / "WV-0200.yaml", caws / "waivers")
    shutil.copy(SHAPES / "waivers" / "broken" / f"{BROKEN_WAIVER}.yaml", caws / "waivers")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "CAWS governance")
    return repo


def make_caws_repo(path: Path, *, policy: bool = True) -> Path:
    return add_caws_files(make_repo(path), policy=policy)
