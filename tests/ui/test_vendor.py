"""The vendored front-end files are exactly the pinned npm releases the manifests name,
nothing else sits beside them, the pages use only them, and they ship with the package."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVED = ROOT / "api" / "ui" / "static" / "vendor"
TESTS = Path(__file__).parent / "vendor"
TEMPLATES = ROOT / "api" / "ui" / "templates"
# What the dashboard was built against: htmx 2.0.x and its SSE extension 2.2.x.
PINS = {
    "htmx.org": r"2\.0\.\d+",
    "htmx-ext-sse": r"2\.2\.\d+",
    "@picocss/pico": r"2\.\d+\.\d+",
    "uplot": r"1\.6\.\d+",
    "axe-core": r"4\.\d+\.\d+",
}


def manifest(directory: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((directory / "manifest.json").read_text())


@pytest.mark.parametrize("directory", [SERVED, TESTS], ids=["served", "tests"])
def test_every_vendored_file_matches_the_manifest(directory: Path) -> None:
    listed: set[str] = set()
    for package in manifest(directory)["packages"]:
        assert re.fullmatch(PINS[package["name"]], package["version"]), package
        assert package["integrity"].startswith("sha512-")
        short = package["name"].rsplit("/", 1)[-1]
        assert package["tarball"] == (
            f"https://registry.npmjs.org/{package['name']}/-/{short}-{package['version']}.tgz"
        )
        for item in package["files"]:
            data = (directory / item["path"]).read_bytes()
            assert len(data) == item["bytes"], item["path"]
            assert hashlib.sha256(data).hexdigest() == item["sha256"], item["path"]
            listed.add(item["path"])
    present = {p.name for p in directory.iterdir() if p.is_file()} - {"manifest.json"}
    assert present == listed, f"unlisted files: {present - listed}, missing: {listed - present}"


def test_pages_load_only_vendored_or_own_files() -> None:
    vendored = {f["path"] for p in manifest(SERVED)["packages"] for f in p["files"]}
    own = {p.name for p in (ROOT / "api" / "ui" / "static").iterdir() if p.is_file()}
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for name in re.findall(r"static\('([^']+)'\)", text):
            assert name.removeprefix("vendor/") in (vendored if name.startswith("vendor/") else own)
        # Nothing from another host: no absolute URL in a src or a stylesheet link.
        assert not re.search(r"""(src|href)=["']https?://""", text), template
        assert "//" not in "".join(re.findall(r"""src=["']([^"']+)""", text)), template


def test_templates_and_static_files_ship_with_the_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["api.ui"]
    package = ROOT / "api" / "ui"
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    wanted = {
        p
        for folder in ("templates", "static")
        for p in (package / folder).rglob("*")
        if p.is_file()
    }
    assert wanted <= shipped, sorted(str(p.relative_to(package)) for p in wanted - shipped)
