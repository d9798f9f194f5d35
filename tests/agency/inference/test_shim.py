"""Building the BLAS shim at install time: the cache key, and the engine without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agency.inference import shim
from agency.inference.blas import CANDIDATES
from tests.support.inference import QUESTION

needs_compiler = pytest.mark.skipif(shim.compiler() is None, reason="no C compiler")


def libraries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.so"))


@needs_compiler
def test_the_build_is_cached_by_source_flags_cpu_and_compiler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = shim.build(tmp_path)
    assert first.library is not None and first.message.startswith("built ")
    assert shim.find(tmp_path) == (first.library, "")
    manifest = json.loads(first.library.with_suffix(".json").read_text())
    assert set(manifest) == {"source_sha256", "compiler", "flags", "cpu", "built"}
    assert manifest["cpu"]["machine"]
    again = shim.build(tmp_path)
    assert again.library == first.library and again.message.startswith("up to date")

    # Another compiler (here the same one behind another path): another build, which
    # replaces the first one for this CPU.
    wrapper = tmp_path / "bin" / "my-cc"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {shim.compiler()[0]} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("CC", str(wrapper))
    other = shim.build(tmp_path)
    assert other.library is not None and other.library != first.library
    assert other.library.name.split("-")[2] == first.library.name.split("-")[2]  # same target
    assert libraries(tmp_path) == [other.library.name]
    monkeypatch.delenv("CC")

    # Other flags, another CPU, another source: another target, nothing found until built.
    for name, value in (
        ("FLAGS", (*shim.FLAGS, "-DAGENCY_TEST")),
        ("cpu_identity", lambda: '{"model name": "another CPU"}'),
    ):
        with monkeypatch.context() as patch:
            patch.setattr(shim, name, value)
            library, why = shim.find(tmp_path)
            assert library is None and "not built for this CPU" in why
            assert "make venv" in why
    source = tmp_path / "shim.c"
    source.write_text(shim.SOURCE.read_text() + "\n/* changed */\n")
    monkeypatch.setattr(shim, "SOURCE", source)
    assert shim.find(tmp_path)[0] is None
    changed = shim.build(tmp_path)
    assert changed.library is not None and changed.library != other.library
    assert libraries(tmp_path) == [changed.library.name]  # the older build for this CPU went


@needs_compiler
def test_a_library_others_can_write_to_is_not_loaded(tmp_path: Path) -> None:
    built = shim.build(tmp_path).library
    assert built is not None
    built.chmod(0o777)
    library, why = shim.find(tmp_path)
    assert library is None and "writable by others" in why


def build_cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agency.inference.shim", "build"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


def test_no_compiler_is_a_warning_and_not_a_failure(tmp_path: Path) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = {"AGENCY_SHIM_DIR": str(tmp_path / "shim"), "PATH": str(empty), "CC": ""}
    done = build_cli(env)
    assert done.returncode == 0  # `make venv` goes on
    assert "warning: BLAS shim: no C compiler" in done.stderr
    assert "OpenBLAS alone" in done.stderr
    assert not (tmp_path / "shim").exists()


def test_a_failing_compiler_is_a_warning_and_leaves_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken-cc"
    broken.write_text("#!/bin/sh\necho 'error: no such luck' >&2\nexit 3\n")
    broken.chmod(0o755)
    done = build_cli({"AGENCY_SHIM_DIR": str(tmp_path / "shim"), "CC": str(broken)})
    assert done.returncode == 0
    assert "warning: BLAS shim: compiling failed" in done.stderr
    assert "exit 3" in done.stderr and "no such luck" in done.stderr
    assert list((tmp_path / "shim").iterdir()) == []


# The engine in a process where no shim was built: one warning line saying why and how to
# build it, then generation on OpenBLAS alone.
WITHOUT = f"""
import asyncio
from agency.inference import ChatMessage, Engine
from agency.inference.blas import blas_status

async def main():
    engine = Engine()
    done = await engine.complete([ChatMessage(role="user", content={QUESTION!r})], max_tokens=8)
    print(blas_status())
    print(engine.models()[0].precision)
    print(done.text)
    engine.close()

asyncio.run(main())
"""


@pytest.mark.skipif(
    not any(Path(p).is_file() for p in CANDIDATES), reason="libopenblas0-pthread not installed"
)
def test_without_a_built_shim_the_engine_says_so_and_keeps_working(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "AGENCY_SHIM_DIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    status, precision, answer = done.stdout.strip().split("\n", 2)
    assert status.startswith("OpenBLAS /") and "(no shim: not built for this CPU" in status
    warnings = [line for line in done.stderr.splitlines() if "inference BLAS" in line]
    assert len(warnings) == 1 and "make venv" in warnings[0]
    assert "GGUF's own weights" not in precision  # float32 products, through sgemm
    assert "Paris" in answer


@needs_compiler
def test_the_installed_shim_is_found() -> None:
    """`make venv` built it for this machine (what `make test` runs first)."""
    library, why = shim.find()
    assert library is not None, why
