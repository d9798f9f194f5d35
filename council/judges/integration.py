"""Integration judge: what else could this change break?

Rules: blast radius (distinct top-level directories touched, against a small bound and
against the spec's declared `blast_radius.modules`), contracts touched (paths the spec's
`contracts[].path` name, *.proto, OpenAPI/Swagger documents), dependency manifests
changed, and schema or model files changed without a migration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from council.judges.common import listing, make_judgment, violation
from council.judges.context import JudgeContext
from council.models import Judgment, Violation
from council.paths import in_scope, normalize, top_level

JUDGE = "integration"
MANIFEST_NAMES = frozenset(
    {
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "Pipfile",
        "Pipfile.lock",
        "poetry.lock",
        "uv.lock",
        "package.json",
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "go.mod",
        "go.sum",
        "Cargo.toml",
        "Cargo.lock",
        "Gemfile",
        "Gemfile.lock",
        "pom.xml",
        "build.gradle",
        "build.gradle.kts",
        "composer.json",
        "composer.lock",
    }
)
MANIFEST_GLOBS: tuple[str, ...] = ("requirements*.txt", "requirements*.in", "constraints*.txt")
CONTRACT_GLOBS: tuple[str, ...] = ("*.proto", "openapi.*", "*.openapi.*", "swagger.*")
SCHEMA_GLOBS: tuple[str, ...] = ("models.py", "schema.*", "*.sql")
MIGRATION_DIRS: tuple[str, ...] = ("migrations", "alembic")
_PATH_LIKE = re.compile(r"^[^\s]+$")


def judge(ctx: JudgeContext) -> Judgment:
    if ctx.stage == "plan":
        violations = _planned_radius(ctx)
        clean = "The planned scope is narrow; integration is judged on the result."
    else:
        paths = sorted({normalize(f.path) for f in ctx.evidence.changed_files})
        violations = [
            *_blast_radius(ctx, paths),
            *_contracts(ctx, paths),
            *_manifests(paths),
            *_migrations(paths),
        ]
        clean = "The change is contained: no contracts, manifests or unmigrated schema touched."
    return make_judgment(JUDGE, violations, clean)


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _any_glob(name: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatchcase(name, g) for g in globs)


def _planned_radius(ctx: JudgeContext) -> list[Violation]:
    tops = sorted({t for t in (_entry_top(e) for e in ctx.spec.scope.in_) if t is not None})
    bound = ctx.policy.agency.max_top_level_dirs
    if len(tops) <= bound:
        return []
    detail = f"scope.in spans {len(tops)} top-level directories ({listing(tops)}); bound {bound}"
    return [violation("blast_radius_wide", "low", detail)]


def _entry_top(entry: str) -> str | None:
    """The top-level directory a scope entry lies in; None when it starts with a wildcard."""
    path = normalize(entry)
    if not path or path.startswith(("*", "?", "[")):
        return None
    if "/" in path:
        return top_level(path)
    # One segment: a directory when written with a slash or without an extension.
    return path if entry.rstrip().endswith("/") or "." not in path.lstrip(".") else "."


def declared_modules(spec_extra: Mapping[str, Any]) -> list[str]:
    """Path-like entries of a CAWS `blast_radius.modules`; prose names are not paths."""
    radius = spec_extra.get("blast_radius")
    modules = radius.get("modules") if isinstance(radius, Mapping) else None
    if not isinstance(modules, list):
        return []
    return [
        normalize(m)
        for m in modules
        if isinstance(m, str) and _PATH_LIKE.match(m) and ("/" in m or "." in m)
    ]


def _declared(path: str, modules: list[str]) -> bool:
    """A path is inside the declared radius when it shares a module's top-level directory
    or contains the module's path segments (CAWS modules are often written loosely)."""
    padded = f"/{path}/"
    return any(top_level(path) == top_level(m) or f"/{m}/" in padded or path == m for m in modules)


def _blast_radius(ctx: JudgeContext, paths: list[str]) -> list[Violation]:
    out: list[Violation] = []
    tops = sorted({top_level(p) for p in paths})
    bound = ctx.policy.agency.max_top_level_dirs
    if len(tops) > bound:
        detail = (
            f"the change spans {len(tops)} top-level directories ({listing(tops)}); bound {bound}"
        )
        out.append(violation("blast_radius_wide", "low", detail))
    modules = declared_modules(ctx.spec.model_extra or {})
    if modules:
        beyond = [p for p in paths if not _declared(p, modules)]
        if beyond:
            detail = (
                f"{len(beyond)} changed path(s) beyond the declared blast_radius.modules: "
                f"{listing(beyond)}"
            )
            out.append(violation("blast_radius_undeclared", "medium", detail))
    return out


def contract_paths(spec_extra: Mapping[str, Any]) -> list[str]:
    contracts = spec_extra.get("contracts")
    if not isinstance(contracts, list):
        return []
    return [
        c["path"]
        for c in contracts
        if isinstance(c, Mapping) and isinstance(c.get("path"), str) and c["path"].strip()
    ]


def _contracts(ctx: JudgeContext, paths: list[str]) -> list[Violation]:
    declared = contract_paths(ctx.spec.model_extra or {})
    touched = [
        p
        for p in paths
        if (declared and in_scope(p, declared)) or _any_glob(_basename(p), CONTRACT_GLOBS)
    ]
    if not touched:
        return []
    detail = f"the change touches contracts: {listing(touched)}"
    return [violation("contract_touched", "medium", detail)]


def _manifests(paths: list[str]) -> list[Violation]:
    changed = [
        p
        for p in paths
        if _basename(p) in MANIFEST_NAMES or _any_glob(_basename(p), MANIFEST_GLOBS)
    ]
    if not changed:
        return []
    detail = f"dependency manifests changed: {listing(changed)}"
    return [violation("dependency_manifest_changed", "medium", detail)]


def _is_migration(path: str) -> bool:
    return any(d in path.split("/")[:-1] for d in MIGRATION_DIRS)


def _migrations(paths: list[str]) -> list[Violation]:
    schema = [p for p in paths if not _is_migration(p) and _any_glob(_basename(p), SCHEMA_GLOBS)]
    if not schema or any(_is_migration(p) for p in paths):
        return []
    detail = f"schema or model files changed with no migration: {listing(schema)}"
    return [violation("migration_missing", "high", detail)]
