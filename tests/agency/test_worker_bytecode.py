"""agency.worker caches the workflow modules' bytecode, which the workflow sandbox
re-imports for every workflow run."""

from __future__ import annotations

import importlib.util
import logging
import shutil
from pathlib import Path

import pytest

from agency import worker


def copy_of_workflows(tmp_path: Path) -> Path:
    copy = tmp_path / "workflows"
    shutil.copytree(worker.WORKFLOW_SOURCES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_every_workflow_module_gets_its_bytecode_whatever_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = copy_of_workflows(tmp_path)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setattr(worker, "WORKFLOW_SOURCES", sources)
    worker.cache_workflow_bytecode()
    modules = sorted(sources.rglob("*.py"))
    assert len(modules) > 10  # the task workflow and its phases
    for module in modules:
        assert Path(importlib.util.cache_from_source(str(module))).is_file(), module


def test_a_cache_it_cannot_write_is_said_and_the_rest_still_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A module Python cannot compile stands for any that cannot be cached (a read-only
    # directory cannot be made here: the tests run as root, who writes anyway).
    sources = copy_of_workflows(tmp_path)
    (sources / "broken.py").write_text("def (:\n")
    monkeypatch.setattr(worker, "WORKFLOW_SOURCES", sources)
    with caplog.at_level(logging.WARNING, logger="agency.worker"):
        worker.cache_workflow_bytecode()
    assert "no bytecode cache" in caplog.text
    assert Path(importlib.util.cache_from_source(str(sources / "task.py"))).is_file()
